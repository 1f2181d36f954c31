"""No request body can make the speech endpoint fail from inside: seeded random bodies over a real server.

Every answer is audio (200) or an OpenAI-shaped error with a client-side status; never a 500.
"""

from __future__ import annotations

import json
import random

from tests.support.fuzz import speech_body
from tests.support.http_checks import openai_error, post_speech

CLIENT_STATUSES = {400, 404, 413, 422}


def test_random_speech_requests_get_audio_or_a_client_error(server) -> None:
    rng = random.Random(20261125)
    statuses = []
    for _ in range(80):
        body = speech_body(rng)
        response = post_speech(server, json.dumps(body), headers={"content-type": "application/json"})
        statuses.append(response.status_code)
        if response.status_code == 200:
            assert response.content, body
        else:
            assert response.status_code in CLIENT_STATUSES, (body, response.status_code, response.text)
            openai_error(response)
    assert 200 in statuses and 400 in statuses  # the bodies reached both sides of the validation
