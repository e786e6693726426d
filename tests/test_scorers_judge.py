"""CL-VISTA judge: the official prompt and parsing, an OpenAI-compatible endpoint, and the labelled fallback."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from eval.scorers import score_task
from eval.scorers.judge import judge_messages, parse_judge_score, token_f1_judge


@pytest.mark.parametrize("reply, expected", [("{'score': 4}", 4), ("```{'score': 3}```", 3), ("{'score': 9}", 5),
                                             ("{'score': -2}", 0), ("{'score': '2'}", 2), ("{'pred': 'yes'}", 0),
                                             ("Score: 4", 0), ("4", 0), ("", 0), ("{'score': 2.7}", 2)])
def test_official_parsing_clamps_and_fails_to_zero(reply, expected):
    assert parse_judge_score(reply) == expected


def test_prompt_carries_question_answer_and_prediction():
    system, user = judge_messages("How many cars?", "three", "3 cars")
    assert system["role"] == "system" and "0: No match at all" in system["content"]
    assert "Question: How many cars?\nCorrect Answer: three\nPredicted Answer: 3 cars" in user["content"]
    assert user["content"].endswith("For example: {'score': 4}.")


def test_fallback_is_deterministic_and_labelled(monkeypatch):
    monkeypatch.delenv("KEEPLORA_JUDGE_URL", raising=False)
    assert token_f1_judge("q", "a red car", "a red car") == 5 and token_f1_judge("q", "red", "blue") == 0
    result = score_task("cl_vista_judge", [{"question": "q", "prediction": "a red car", "answers": ["a red car"]},
                                           {"question": "q", "prediction": "blue", "answers": ["red"]}])
    assert result.value == pytest.approx(50.0) and "not comparable" in result.note


def test_openai_compatible_endpoint(monkeypatch):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            score = 5 if "Predicted Answer: three" in body["messages"][1]["content"] else 1
            reply = json.dumps({"choices": [{"message": {"content": f"{{'score': {score}}}"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("KEEPLORA_JUDGE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("KEEPLORA_JUDGE_MODEL", "qwen3-judge")
    try:
        preds = [{"question": "How many?", "prediction": "three", "answers": ["3"]},
                 {"question": "How many?", "prediction": "many", "answers": ["3"]}]
        result = score_task("cl_vista_judge", preds)
    finally:
        server.shutdown()
    assert result.note is None and result.value == pytest.approx((5 + 1) / 2 * 20)
    assert [p["judge_score"] for p in preds] == [5, 1]
    assert all(b["model"] == "qwen3-judge" and b["temperature"] == 0 for b in seen)
