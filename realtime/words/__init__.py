"""Word timestamps: which word of a segment is heard when (captions, barge-in).

splitter (text -> words with char offsets, pure), timing (word times on a context's
timeline, estimated from characters, pure), english (pocketsphinx forced alignment),
aligner (picks an aligner per segment, falls back to estimates, runs off the loop).
"""
