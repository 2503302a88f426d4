"""The TRL adapter: GRPOTrainer reward-function signature, standard and conversational data."""

import inspect

import pytest

from prmkit.rl.trl import message_text, prm_reward, stepwise_rows
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

from ._rl_fakes import KeywordScorer


def test_signature_matches_grpo_reward_functions():
    params = inspect.signature(prm_reward(KeywordScorer())).parameters
    assert list(params)[:3] == ["prompts", "completions", "completion_ids"]
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert prm_reward(KeywordScorer(), "mean").__name__ == "prm_mean"


def test_standard_format_scores_all_completions_in_one_batch():
    scorer = KeywordScorer()
    reward = prm_reward(scorer, "min")
    out = reward(
        prompts=["Q1", "Q1", "Q2"],
        completions=["a=1\n\nb=2", "a=1\n\noops=3\n\nb=2", "   "],
        completion_ids=[[1], [2], [3]],
        trainer_state=None,
    )
    assert out == [0.9, 0.1, 0.0]  # a blank completion has no steps -> 0.0
    assert len(scorer.batches) == 1
    assert scorer.batches[0] == [("Q1", ["a=1", "b=2"]), ("Q1", ["a=1", "oops=3", "b=2"])]
    assert prm_reward(scorer, "mean")(["Q"], ["a\n\noops"]) == [pytest.approx(0.5)]


def test_logs_hacking_metrics_through_trl_callback():
    logged = {}
    prm_reward(KeywordScorer())(["Q", "Q"], ["a\n\na\n\nb", "c"], [[1], [2]],
                                log_metric=lambda name, value: logged.__setitem__(name, value))
    assert logged == {"prm/steps_per_completion": 2.0, "prm/repeated_step_ratio": pytest.approx(0.25)}


def test_conversational_format_uses_last_user_and_assistant_messages():
    scorer = KeywordScorer()
    prompts = [[{"role": "system", "content": "Be careful."}, {"role": "user", "content": "What is 2+3?"}]]
    completions = [[{"role": "assistant", "content": "2+3=5\n\nThe answer is 5"}]]
    assert prm_reward(scorer)(prompts=prompts, completions=completions, completion_ids=[[5]]) == [0.9]
    assert scorer.batches[0] == [("What is 2+3?", ["2+3=5", "The answer is 5"])]


def test_question_column_and_custom_separator():
    scorer = KeywordScorer()
    reward = prm_reward(scorer, "last", separator="\n", question_key="question")
    assert reward(["<chat>Q</chat>"], ["x\noops"], [[1]], question=["bare Q"]) == [0.1]
    assert scorer.batches[0] == [("bare Q", ["x", "oops"])]
    with pytest.raises(ValueError, match="question_key='question' is not a dataset column; columns passed: \\['answer'\\]"):
        reward(["Q"], ["x"], [[1]], answer=["5"])


def test_errors():
    with pytest.raises(ValueError, match="Unknown aggregation 'median'"):
        prm_reward(KeywordScorer(), "median")
    with pytest.raises(ValueError, match="no message with role 'assistant'"):
        message_text([{"role": "user", "content": "hi"}], "assistant")


def _record(labels):
    problem = Problem(id="p1", question="What is 2+3?", answer="5")
    return LabelledSolution(problem, Solution("p1", ["2+3=5", "Answer 6"]), StepLabels(labels))


def test_stepwise_rows_match_trl_format():
    rows = stepwise_rows([_record([1.0, 0.25])])
    assert rows == [{"prompt": "What is 2+3?", "completions": ["2+3=5", "Answer 6"], "labels": [True, False]}]
    assert stepwise_rows([_record([0.75, 0.25])], threshold=0.8)[0]["labels"] == [False, False]
    with pytest.raises(ValueError, match="record 0 \\(problem 'p1'\\): step 1 has no label"):
        stepwise_rows([_record([1.0, None])])


@pytest.mark.slow  # needs `trl` (+ `datasets`), not a prmkit dependency; about 20 s on CPU
def test_grpo_trainer_calls_the_reward_function(tmp_path):
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    from transformers import GPT2Config, GPT2LMHeadModel

    from prmkit.train.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2,
                                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                       pad_token_id=tokenizer.pad_token_id))
    scorer = KeywordScorer()
    reward = prm_reward(scorer, "min", separator="\n", question_key="question")
    data = datasets.Dataset.from_list([{"prompt": "Q 1 +2\n", "question": "Q 1 +2"}] * 4)
    config = trl.GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
                            max_completion_length=12, max_steps=1, report_to=[], use_cpu=True, logging_steps=1,
                            save_strategy="no")
    trainer = trl.GRPOTrainer(model=model, reward_funcs=[reward], args=config, train_dataset=data,
                              processing_class=tokenizer)
    trainer.train()
    assert scorer.batches and all(question == "Q 1 +2" for batch in scorer.batches for question, _ in batch)
    logged = {k for entry in trainer.state.log_history for k in entry}
    assert "rewards/prm_min/mean" in logged and "prm/steps_per_completion" in logged
