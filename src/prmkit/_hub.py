"""Check a Hugging Face hub id before anything loads, so a mistyped name fails in a second, not 50.

Given a name that is not a local folder (``--policy nosuchdir``, ``--base-model gtp2``),
transformers retries the hub five times with back-off before saying it could not connect; offline
that is ~50 s for a typo. :func:`check_hub_model` answers first, in this order:

1. the name is in the local Hugging Face cache (``config.json`` or a PEFT ``adapter_config.json``
   was downloaded before) -> fine, whether online or not;
2. offline mode (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``) -> refused: nothing could load it;
3. one metadata request with a short timeout and no retries: "no such repository" and "hub
   unreachable" are refused with the fix; any other answer (gated, rate-limited, ...) is left to the
   loader, whose own message is then the right one.

Nothing here imports huggingface_hub until called, and without it installed the check is skipped.
"""

from __future__ import annotations

import os

from prmkit._errors import InputError

__all__ = ["check_hub_model", "hub_offline"]

#: Seconds the one metadata request may take before the hub counts as unreachable.
PROBE_TIMEOUT_S = 5.0

_CONFIG_FILES = ("config.json", "adapter_config.json")


def hub_offline() -> bool:
    """Whether Hugging Face offline mode is on (read from the environment now, not at import)."""
    flags = (os.environ.get(name, "") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag.strip().upper() in {"1", "ON", "YES", "TRUE"} for flag in flags)


def check_hub_model(name: str, what: str, *, demo: bool = False) -> None:
    """Refuse quickly a model name that is neither a local folder nor a hub model that can load.

    Args:
        name: a name that is not a local folder (the caller checked), e.g. ``"gpt2"``, ``"org/model"``.
        what: the flag or field for the message (``"--policy"``, ``"PRMTrainConfig.base_model"``).
        demo: whether ``"demo"`` (the shipped arith policy) is a valid value, to offer it in the message.

    Raises:
        InputError: ``name`` is not a valid hub id, is not cached while offline, does not exist on the
            hub, or the hub cannot be reached; the message says what to pass instead.
    """
    try:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, HFValidationError, RepositoryNotFoundError
    except ImportError:  # no hub client: the loader (if any) reports
        return
    from huggingface_hub import constants

    local_hint = "a checkpoint folder" + (", 'demo' (the shipped arith policy)," if demo else "") + " or a hub id such as org/name"
    try:
        cached = [try_to_load_from_cache(name, filename) for filename in _CONFIG_FILES]
    except HFValidationError:
        raise InputError(f"{what} {name}: no such local folder, and not a valid Hugging Face hub id; pass "
                         f"{local_hint}") from None
    if any(isinstance(path, str) for path in cached):
        return
    if hub_offline() or constants.HF_HUB_OFFLINE:
        raise InputError(f"{what} {name}: no such local folder, and not in the Hugging Face cache while offline "
                         f"(HF_HUB_OFFLINE is set); pass {local_hint}, or go online to download it")
    from huggingface_hub import model_info

    try:
        model_info(name, timeout=PROBE_TIMEOUT_S)
    except GatedRepoError:  # exists; the loader says how to get access
        return
    except RepositoryNotFoundError:
        raise InputError(f"{what} {name}: no such local folder, and no model {name!r} on the Hugging Face hub "
                         f"(if it is private, log in with `hf auth login`); pass {local_hint}") from None
    except HfHubHTTPError:  # rate limits, server errors: the loader's message is the right one
        return
    except Exception as err:  # noqa: BLE001 - connection refused / DNS / timeout, in whatever HTTP client is used
        raise InputError(f"{what} {name}: no such local folder, and the Hugging Face hub is unreachable "
                         f"({type(err).__name__}: {err}); pass {local_hint}, or set HF_HUB_OFFLINE=1 to use "
                         "only cached models") from None
