"""Saved voices: a library of cloned, designed and blended voices, reusable by id.

`store` is the storage contract (so a shared database can serve several replicas),
`sqlite` its default implementation, `blobs` the tensor encoding, `requests` the pure
validation of what clients send, and `library` the logic that turns requests into
stored voices with the engines' help.
"""
