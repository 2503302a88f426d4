"""The OpenRLHF adapter: reward_func(queries, prompts, labels) -> {"rewards", "scores", "extra_logs"}."""

import importlib.util
import inspect

import pytest
import torch

from prmkit.rl.openrlhf import make_reward_func


class KeywordScorer:
    def __init__(self):
        self.calls = 0

    def score(self, items):
        self.calls += 1
        return [[0.2 if "oops" in step else 0.8 for step in steps] for _, steps in items]


PROMPTS = ["Q: 2+3?\nA:", "Q: 2+3?\nA:", "Q: 1+1?\nA:"]
RESPONSES = [" 2+3=5\n\nThe answer is 5<|im_end|>", " oops 2+3=6\n\nThe answer is 6", ""]
LABELS = ["5", "5", "2"]


def test_contract_and_values():
    scorer = KeywordScorer()
    reward_func = make_reward_func(scorer, verifiable_coef=0.5)
    assert list(inspect.signature(reward_func).parameters) == ["queries", "prompts", "labels"]
    out = reward_func([p + r for p, r in zip(PROMPTS, RESPONSES)], PROMPTS, LABELS)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert scorer.calls == 1
    assert out["extra_logs"]["prm"].tolist() == pytest.approx([0.8, 0.2, 0.0])
    assert out["scores"].tolist() == [1.0, 0.0, 0.0]  # verifier verdicts, in [0, 1]
    assert out["rewards"].tolist() == pytest.approx([1.3, 0.2, 0.0])
    assert out["extra_logs"]["num_steps"].tolist() == [2.0, 2.0, 0.0]
    assert all(isinstance(v, torch.Tensor) for v in out["extra_logs"].values())


def test_prm_only_and_min_aggregation():
    reward_func = make_reward_func(KeywordScorer(), verifier=None)
    out = reward_func(["Q a\n\noops b"], ["Q"], [None])
    assert out["rewards"].tolist() == pytest.approx([0.2]) and torch.equal(out["rewards"], out["scores"])


def test_loads_from_a_file_like_openrlhf(tmp_path):
    # OpenRLHF imports the module at --remote_rm_url and calls its `reward_func`.
    path = tmp_path / "reward_func.py"
    path.write_text(
        "from prmkit.models import load_scorer\n"
        "from prmkit.rl.openrlhf import make_reward_func\n"
        "reward_func = make_reward_func(load_scorer('dummy', value=0.7), verifiable_coef=1.0)\n"
    )
    spec = importlib.util.spec_from_file_location("reward_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.reward_func(["P 1+1=2\n\nThe answer is 2"], ["P"], ["2"])
    assert out["rewards"].tolist() == pytest.approx([1.7])


def test_errors_name_the_fix():
    reward_func = make_reward_func(KeywordScorer())
    with pytest.raises(ValueError, match="pass response_from_query="):
        reward_func(["something else"], ["Q:"], ["1"])
    with pytest.raises(ValueError, match="got 1 queries, 2 prompts, 1 labels"):
        reward_func(["Q: x"], ["Q:", "Q:"], ["1"])
    with pytest.raises(ValueError, match="Unknown aggregation 'max'"):
        make_reward_func(KeywordScorer(), aggregate_how="max")


# -- the same reward over HTTP: prmkit serve's /get_reward, called as OpenRLHF calls --remote_rm_url ----


def _openrlhf_payload(queries, prompts, labels):
    """The body OpenRLHF's SingleTurnAgentExecutor._fetch_rewards_via_http POSTs (openrlhf/utils/agent.py)."""
    return {"query": queries, "prompts": prompts, "labels": labels}


def _read_like_openrlhf(info):
    """What OpenRLHF keeps from the answer: rewards, scores (else rewards), extra_logs as tensors."""
    score = info.get("scores")
    if score is None:
        score = info.get("rewards")
    logs = {key: torch.tensor([value]) for key, value in (info.get("extra_logs") or {}).items()}
    return torch.tensor(info.get("rewards")), torch.tensor(score), logs


CHAT_PROMPT = "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n"


def test_get_reward_route_matches_the_in_process_reward_func():
    import asyncio

    from prmkit.serve.app import create_app
    from tests._serve import post_concurrently

    queries = [p + r for p, r in zip(PROMPTS, RESPONSES)] + [CHAT_PROMPT + "2+3=5\n\nThe answer is 5<|im_end|>"]
    prompts, labels = [*PROMPTS, CHAT_PROMPT], [*LABELS, "5"]
    expected = make_reward_func(KeywordScorer(), verifiable_coef=1.0)(queries, prompts, labels)
    scorer = KeywordScorer()
    app = create_app(scorer, max_wait_ms=300)
    # OpenRLHF sends one sample per call, many calls at once: they are batched into one scorer call
    bodies = [_openrlhf_payload([q], [p], [lab]) for q, p, lab in zip(queries, prompts, labels)]
    responses = asyncio.run(post_concurrently(app, bodies, path="/get_reward"))
    assert [r.status_code for r in responses] == [200] * len(bodies)
    read = [_read_like_openrlhf(r.json()) for r in responses]
    assert torch.cat([rewards for rewards, _, _ in read]).tolist() == expected["rewards"].tolist()
    assert torch.cat([scores for _, scores, _ in read]).tolist() == expected["scores"].tolist()
    assert set(read[0][2]) == {"prm", "verifiable", "num_steps"}
    assert [logs["num_steps"].item() for _, _, logs in read] == expected["extra_logs"]["num_steps"].tolist()
    assert scorer.calls == 1  # the empty response is not sent to the PRM; the other three share one call


def test_get_reward_errors_are_4xx_in_the_server_error_shape():
    from fastapi.testclient import TestClient

    from prmkit.serve.app import create_app

    with TestClient(create_app(KeywordScorer(), api_key="k")) as client:
        auth = {"Authorization": "Bearer k"}
        old_style = client.post("/get_reward", json={"query": ["Q\n\nx=1"]}, headers=auth)  # older OpenRLHF: query only
        mismatched = client.post("/get_reward", json=_openrlhf_payload(["a", "b"], ["a"], ["1", "2"]), headers=auth)
        not_prefixed = client.post("/get_reward", json=_openrlhf_payload(["something"], ["Q:"], ["1"]), headers=auth)
        surrogate = client.post(
            "/get_reward", content=b'{"query": ["Q \\udc80"], "prompts": ["Q"], "labels": [null]}',
            headers={**auth, "Content-Type": "application/json"},
        )  # fmt: skip
        no_key = client.post("/get_reward", json=_openrlhf_payload(["Q a"], ["Q"], ["1"]))
    assert old_style.status_code == 200 and old_style.json()["rewards"] == pytest.approx([0.8])
    for response, status, code in (
        (mismatched, 400, "invalid_request"), (not_prefixed, 400, "invalid_request"),
        (surrogate, 400, "undecodable_text"), (no_key, 401, "unauthorized"),
    ):  # fmt: skip
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    assert "pass response_from_query=" in not_prefixed.json()["error"]["message"]
    assert surrogate.json()["error"]["param"] == "query[0]"
