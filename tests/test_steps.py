import pytest

from prmkit.steps import has_step_prefix, join_steps, normalize_step, split_steps, strip_step_prefix


def test_blank_line_split_normalises_and_drops_empty_pieces():
    text = "  First  step\t here. \r\n\r\n\n\nSecond\u00a0step.\n  \n\nThird\nstill third.\n\n"
    assert split_steps(text) == ["First step here.", "Second step.", "Third\nstill third."]
    assert split_steps(text, "\n\n") == split_steps(text)


def test_auto_falls_back_to_single_newlines():
    assert split_steps("a = 1\n\tb = 2 \n\nc") == ["a = 1\nb = 2", "c"]  # blank line present -> "\n\n"
    assert split_steps("a = 1\nb = 2\n c = 3") == ["a = 1", "b = 2", "c = 3"]


def test_step_markers_take_priority_and_keep_their_prefix():
    text = "Let me think.\nStep 1: 2+3=5\nmore of step 1\n\nStep 2: 5*2=10\nstep 3. Done"
    assert split_steps(text) == ["Let me think.", "Step 1: 2+3=5\nmore of step 1", "Step 2: 5*2=10", "step 3. Done"]
    assert split_steps(text, "step", strip_prefixes=True) == ["Let me think.", "2+3=5\nmore of step 1", "5*2=10", "Done"]


def test_markdown_step_markers_and_marker_only_pieces_are_dropped():
    text = "## Step 1: Add\n2+3=5\n## Step 2:\n**Step 3:** So 5."
    assert split_steps(text) == ["## Step 1: Add\n2+3=5", "**Step 3:** So 5."]


def test_numbered_lines_as_in_prmbench():
    text = "1. Let p be the price.\n2. Then 3p = 6.\n3.5 is not a marker\n3) So p = 2."
    assert split_steps(text, "numbered") == ["1. Let p be the price.", "2. Then 3p = 6.\n3.5 is not a marker", "3) So p = 2."]
    assert split_steps(text, "numbered", strip_prefixes=True)[-1] == "So p = 2."


def test_blank_text_gives_no_steps_and_bad_separator_raises():
    assert split_steps("  \n\n \n") == []
    with pytest.raises(ValueError, match="unknown separator"):
        split_steps("a", "|")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "stripped"),
    [
        ("Step 3: x = 2", "x = 2"),
        ("step 12. x", "x"),
        ("## Step 1: Find", "Find"),
        ("**Step 2:** So", "So"),
        ("3. Then", "Then"),
        ("4) Then", "Then"),
        ("3.5 apples", "3.5 apples"),
        ("Stepping: no", "Stepping: no"),
        ("The step 1: no", "The step 1: no"),
    ],
)
def test_strip_step_prefix(step, stripped):
    assert strip_step_prefix(step) == stripped
    assert has_step_prefix(step) == (step != stripped)


@pytest.mark.parametrize("sep", ["\n\n", "\n"])
def test_join_then_split_round_trips(sep):
    steps = ["Compute 2+3 = 5.", "Double it: 10.", "The answer is 10."]
    assert split_steps(join_steps(steps, sep), sep) == steps


def test_join_rejects_empty_steps_by_index():
    assert join_steps(["a", "b"]) == "a\n\nb"
    with pytest.raises(ValueError, match="step 1 is empty"):
        join_steps(["a", "  "])


def test_normalize_step():
    assert normalize_step(" a  \t b \r\n c \n\n\n\n d ") == "a b\nc\n\nd"
    assert normalize_step(" \n ") == ""
