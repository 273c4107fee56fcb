"""Log lines as JSON: the message's key=value context lifted into fields; and the rate limit of progress lines."""

import json
import logging

from indexer.logs import Every, JsonFormatter


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("indexer.pipeline.chain", logging.INFO, __file__, 1, message, args, None)


def test_context_becomes_fields():
    line = JsonFormatter().format(record("block processed chain=%s block=%d seconds=%.3f error='a b'",
                                         "devnet", 12, 0.5))
    entry = json.loads(line)
    assert entry["msg"] == "block processed chain=devnet block=12 seconds=0.500 error='a b'"
    assert (entry["chain"], entry["block"], entry["seconds"], entry["error"]) == ("devnet", "12", "0.500", "a b")
    assert entry["level"] == "INFO" and entry["logger"] == "indexer.pipeline.chain" and entry["ts"].endswith("Z")


def test_a_key_cannot_overwrite_the_line_itself():
    entry = json.loads(JsonFormatter().format(record("odd level=%s msg=%s", "x", "y")))
    assert entry["level"] == "INFO" and entry["msg"] == "odd level=x msg=y"


def test_progress_lines_at_most_every_n_seconds():
    now = [0.0]
    every = Every(10, clock=lambda: now[0])
    seen = []
    for second in range(0, 25):
        now[0] = float(second)
        seen.append(every.due())
    assert [i for i, due in enumerate(seen) if due] == [0, 10, 20]
    assert every.take_skipped() == 22 and every.take_skipped() == 0


def test_account_ids_are_shortened_for_tables():
    from indexer.display import short_address

    owner = "0x48cF2f8Bb2fC39D10f0e5Eb7c1A2F3c4D5e64Af5"
    assert short_address(owner) == "0x48cF…4Af5"
    assert short_address(f"{owner}:ETH") == "0x48cF…4Af5:ETH"
    assert short_address(f"{owner}:47498070760518044787594252064208936473310956191177884965783673482055280888109") \
        == "0x48cF…4Af5:4749…8109"


def test_levels_per_command_kind_and_environment():
    from indexer.logs import level_for

    assert level_for(verbose=0, quiet=False, long_running=True, environ={}) == logging.INFO
    assert level_for(verbose=0, quiet=False, long_running=False, environ={}) == logging.ERROR
    assert level_for(verbose=1, quiet=False, long_running=False, environ={"LOG_LEVEL": "ERROR"}) == logging.INFO
    assert level_for(verbose=2, quiet=False, long_running=True, environ={}) == logging.DEBUG
    assert level_for(verbose=0, quiet=True, long_running=True, environ={}) == logging.WARNING
    assert level_for(verbose=0, quiet=False, long_running=False, environ={"LOG_LEVEL": "debug"}) == logging.DEBUG
    import pytest

    with pytest.raises(ValueError, match="'LOUD' is not one of"):
        level_for(verbose=0, quiet=False, long_running=True, environ={"LOG_LEVEL": "loud"})
