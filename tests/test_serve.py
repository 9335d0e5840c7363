"""The HTTP service end to end: a real uvicorn server on loopback, the tiny in-test model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from live_server import call, live_server

from refusal_detector import RefusalDetector
from refusal_detector.scanner import NoRefusal
from refusal_detector.serve import ServeSettings, create_app

TEXTS = [
    "sorry i can't help with that request",
    "sure here is a recipe for pancakes: mix flour eggs and milk",
    "as an ai language model i cannot provide that",
    "the king and the queen ruled the city by the river",
    "",
]
LONG = " ".join(["here is the answer to your question about the weather in the city."] * 400)


@pytest.fixture(scope="module")
def detector(tiny_model_dir: Path) -> RefusalDetector:
    return RefusalDetector.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def url(tiny_model_dir: Path) -> Iterator[str]:
    with live_server(create_app(ServeSettings(model=tiny_model_dir))) as base:
        yield base


def test_health_and_readiness(url: str) -> None:
    assert call(url, "/healthz")[:2] == (200, {"status": "alive", "detail": None})
    assert call(url, "/readyz")[:2] == (200, {"status": "ready", "detail": None})


def test_classify_matches_the_detector(url: str, detector: RefusalDetector) -> None:
    status, body, _ = call(url, "/v1/classify", {"texts": TEXTS})
    assert status == 200
    expected = detector(TEXTS)
    assert [r["label"] for r in body] == [e["label"] for e in expected]
    assert [r["score"] for r in body] == pytest.approx([e["score"] for e in expected], abs=1e-5)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7, 1.0])
def test_classify_threshold(url: str, detector: RefusalDetector, threshold: float) -> None:
    status, body, _ = call(url, "/v1/classify", {"texts": TEXTS, "threshold": threshold})
    assert status == 200
    assert [r["label"] for r in body] == [e["label"] for e in detector(TEXTS, threshold=threshold)]


def test_a_long_text_is_scored_through_its_windows(url: str, detector: RefusalDetector) -> None:
    assert len(detector.window_scores([LONG])[0]) > 1
    status, body, _ = call(url, "/v1/classify", {"texts": [LONG], "threshold": 0.5})
    assert status == 200
    assert body[0]["score"] == pytest.approx(detector([LONG])[0]["score"], abs=1e-5)


@pytest.mark.parametrize(
    ("body", "raw", "field"),
    [
        ({"texts": "not a list"}, None, "texts"),
        ({"texts": None}, None, "texts"),
        ({"texts": [None]}, None, "texts.0"),
        ({"texts": ["ok", 3]}, None, "texts.1"),
        ({}, None, "texts"),
        (None, b"", "body"),
        (None, b"{not json", "body"),
        (None, b"[1, 2]", "body"),
        ({"texts": ["a"], "threshold": 2}, None, "threshold"),
        ({"texts": ["a"], "threshhold": 0.5}, None, "threshhold"),
    ],
)
def test_bad_bodies_get_422_naming_the_field(
    url: str, body: object, raw: bytes | None, field: str
) -> None:
    status, answer, _ = call(url, "/v1/classify", body, raw=raw)
    assert status == 422
    assert answer["detail"].startswith("invalid request body")
    assert field in answer["detail"]


def test_a_50_mb_text_gets_413(url: str) -> None:
    raw = json.dumps({"texts": ["a" * 50_000_000]}).encode()
    status, answer, _ = call(url, "/v1/classify", raw=raw)
    assert status == 413
    assert "max_body_bytes" in answer["detail"]


def test_text_and_batch_limits_get_413(url: str) -> None:
    status, answer, _ = call(url, "/v1/classify", {"texts": ["ok", "a " * 50_001]})
    assert status == 413
    assert "texts[1] has 100,002 characters; the limit is 100,000" in answer["detail"]
    status, answer, _ = call(url, "/v1/classify", {"texts": ["ok"] * 65})
    assert status == 413
    assert "65 texts; the limit is 64" in answer["detail"]
    status, answer, _ = call(url, "/scan/output", {"prompt": "", "output": "a" * 100_001})
    assert status == 413
    assert "output has 100,001 characters" in answer["detail"]


def test_a_text_at_the_length_limit_is_scored(url: str) -> None:
    status, body, _ = call(url, "/v1/classify", {"texts": ["a " * 50_000]})
    assert status == 200
    assert len(body) == 1


OUTPUTS = [*TEXTS, "   ", LONG, LONG + " sorry i can't help with that request."]


@pytest.mark.parametrize("route", ["/scan/output", "/analyze/output"])
def test_llm_guard_routes_give_no_refusals_risk(
    url: str, detector: RefusalDetector, route: str
) -> None:
    scanner = NoRefusal(model=detector)
    for output in OUTPUTS:
        status, body, _ = call(url, route, {"prompt": "a question", "output": output})
        assert status == 200
        _, is_valid, risk = scanner.scan("a question", output)
        expected = {"is_valid": is_valid, "scanners": {"NoRefusal": risk}}
        if route == "/analyze/output":
            expected["sanitized_output"] = output
        assert body == expected, output[:40]


def test_llm_guard_scanners_suppress(url: str) -> None:
    body = {"prompt": "p", "output": TEXTS[0], "scanners_suppress": ["NoRefusal"]}
    assert call(url, "/scan/output", body)[:2] == (200, {"is_valid": True, "scanners": {}})


def test_explain_matches_refusal_verdict(url: str, detector: RefusalDetector) -> None:
    text = "sure here is a recipe for pancakes. sorry i can't help with that request. mix flour."
    status, body, _ = call(url, "/v1/explain", {"text": text, "prompt": "pancakes?"})
    assert status == 200
    verdict = detector.refusal_verdict(text)
    assert body["verdict"] == verdict.verdict
    assert body["score"] == pytest.approx(verdict.score, abs=1e-5)
    assert [(s["start"], s["end"]) for s in body["spans"]] == [
        (s.start, s.end) for s in verdict.spans
    ]
    assert [s["text"] for s in body["sentences"]] == [
        s.text for s in detector.score_sentences(text)
    ]
    for span in body["sentences"]:
        assert text[span["start"] : span["end"]] == span["text"]


REASONING = [
    "<think>sorry i can't help with that request</think>sure here is a recipe for pancakes",
    "<think>sure here is a recipe for pancakes</think>sorry i can't help with that request",
    "<think>sorry i can't help with that request",  # all trace: blank in answer mode
]


def test_reasoning_outputs_are_read_as_the_library_reads_them(
    url: str, detector: RefusalDetector
) -> None:
    scanner = NoRefusal(model=detector)
    for output in REASONING:
        status, body, _ = call(url, "/scan/output", {"prompt": "q", "output": output})
        assert status == 200
        _, is_valid, risk = scanner.scan("q", output)
        assert body == {"is_valid": is_valid, "scanners": {"NoRefusal": risk}}, output
        status, body, _ = call(url, "/v1/explain", {"text": output, "prompt": "q"})
        assert status == 200
        sentences = detector.score_sentences(output)
        assert [(s["start"], s["end"]) for s in body["sentences"]] == [
            (s.start, s.end) for s in sentences
        ]
        assert all(s["start"] > output.index("</think>") for s in body["sentences"][:1])
    assert scanner.scan("q", REASONING[2])[1:] == (True, -1.0)


def test_metrics_report_routes_batches_and_rejection_rate(url: str) -> None:
    call(url, "/v1/classify", {"texts": ["a", "b", "c"], "threshold": 0.0})
    call(url, "/v1/classify", {"texts": "bad"})
    status, text, headers = call(url, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert re.search(
        r'refusal_detector_requests_total\{route="/v1/classify",status="200"\} \d', text
    )
    assert re.search(
        r'refusal_detector_requests_total\{route="/v1/classify",status="422"\} \d', text
    )
    assert 'refusal_detector_request_seconds_bucket{le="0.005",route="/v1/classify"}' in text
    assert "refusal_detector_batch_texts_count" in text
    assert "refusal_detector_queue_depth 0.0" in text
    rejected = re.search(
        r'refusal_detector_labels_total\{label="REJECTION",route="/v1/classify"\} (\S+)', text
    )
    assert rejected is not None and float(rejected.group(1)) >= 3
    ratio = re.search(r"^refusal_detector_rejection_ratio (\S+)$", text, re.M)
    assert ratio is not None and 0.0 < float(ratio.group(1)) <= 1.0


def test_2000_requests_from_64_threads_get_no_5xx(url: str) -> None:
    bodies = [
        ("/v1/classify", {"texts": [TEXTS[0]]}),
        ("/v1/classify", {"texts": TEXTS[:3]}),
        ("/scan/output", {"prompt": "q", "output": TEXTS[1]}),
        ("/v1/explain", {"text": TEXTS[2]}),
        ("/v1/classify", {"texts": "not a list"}),
    ]

    def one(i: int) -> int:
        path, body = bodies[i % len(bodies)]
        return call(url, path, body)[0]

    with ThreadPoolExecutor(max_workers=64) as pool:
        statuses = list(pool.map(one, range(2000)))
    assert sorted(set(statuses)) == [200, 422]
    assert statuses.count(422) == 400
    _, text, _ = call(url, "/metrics")
    batches = float(re.search(r"refusal_detector_batch_texts_count (\S+)", text).group(1))
    texts = float(re.search(r"refusal_detector_batch_texts_sum (\S+)", text).group(1))
    assert texts > batches  # concurrent requests were merged into shared model batches


def test_bearer_token(tiny_model_dir: Path) -> None:
    app = create_app(ServeSettings(model=tiny_model_dir, api_token="s3cret"))
    with live_server(app) as base:
        body = {"texts": ["hello"]}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            status, answer, got = call(base, "/v1/classify", body, headers=headers)
            assert status == 401
            assert "bearer token" in answer["detail"]
            assert got["www-authenticate"] == "Bearer"
        ok = {"Authorization": "Bearer s3cret"}
        assert call(base, "/v1/classify", body, headers=ok)[0] == 200
        assert call(base, "/scan/output", {"output": "x"}, headers={})[0] == 401
        assert call(base, "/healthz")[0] == 200
        assert call(base, "/readyz")[0] == 200


def test_full_queue_gets_503_with_retry_after(tiny_model_dir: Path) -> None:
    settings = ServeSettings(model=tiny_model_dir, queue_size=1, max_batch=1, retry_after_s=3)
    with live_server(create_app(settings)) as base:
        body = {"texts": [LONG]}
        with ThreadPoolExecutor(max_workers=24) as pool:
            answers = list(pool.map(lambda _: call(base, "/v1/classify", body), range(24)))
    statuses = [a[0] for a in answers]
    assert set(statuses) <= {200, 503}
    assert 503 in statuses and 200 in statuses
    busy = next(a for a in answers if a[0] == 503)
    assert busy[2]["retry-after"] == "3"
    assert "at capacity" in busy[1]["detail"]


def test_slow_request_gets_504_and_the_service_goes_on(tiny_model_dir: Path) -> None:
    settings = ServeSettings(model=tiny_model_dir, request_timeout_s=0.001)
    with live_server(create_app(settings)) as base:
        status, answer, _ = call(base, "/v1/classify", {"texts": [LONG] * 8})
        assert status == 504
        assert "request_timeout_s" in answer["detail"]
        assert call(base, "/healthz")[0] == 200
