"""Batch pieces without a server: the same request body as on demand, splitting by bytes, batch prices,
the journal's torn last line, custom ids every provider accepts."""

import asyncio
import re
from types import SimpleNamespace

import pytest

from bench.backends.anthropic_messages import build_params as anthropic_params
from bench.backends.base import CaptionRequest, ImageInput, Sampling
from bench.backends.openai_chat import OpenAIChatBackend
from bench.batch.anthropic_batch import AnthropicBatch
from bench.batch.base import BatchLimits, custom_id_for
from bench.batch.journal import Journal
from bench.batch.openai_batch import OpenAIBatch
from bench.batch.prices import batch_price
from bench.batch.runner import BatchRunner
from bench.config import BatchConfig
from bench.runner import EncodeSettings


@pytest.fixture
def frames10(tmp_path):
    from bench.frames import Frame

    from ..conftest import write_image

    return [Frame(id=f"f{i}", image_path=write_image(tmp_path / "img" / f"{i}.jpg", color=(i * 20, 9, 9)))
            for i in range(10)]


REQ = CaptionRequest(image=ImageInput(b"\xff\xd8jpegbytes", "image/jpeg", 4, 3, "0" * 64), system="sys",
                     user="user", sampling=Sampling(temperature=0.1, max_tokens=2000, response_format="json_object"))


def test_batch_bodies_are_the_on_demand_requests():
    on_demand = OpenAIChatBackend("gpt-4.1", "http://127.0.0.1:9/v1", "k")._params(REQ)
    line = OpenAIBatch("gpt-4.1", "http://127.0.0.1:9/v1", "k").entry("c1", REQ)
    assert line["url"] == "/v1/chat/completions" and line["method"] == "POST" and line["body"] == on_demand
    entry = AnthropicBatch("claude-sonnet-4-20250514", "http://127.0.0.1:9", "k").entry("c1", REQ)
    params = anthropic_params("claude-sonnet-4-20250514", REQ)
    sampling = params.pop("extra_body")
    assert entry["params"] == {**params, **sampling}  # temperature as a plain body field, as the SDK sends it


def test_custom_ids_fit_every_provider_and_stay_distinct():
    ids = {custom_id_for(f) for f in ["a", "b/c d.jpg", "é" * 300, "x\udcff"]}
    assert len(ids) == 4 and all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids)


class FakeProvider:
    name = "fake"
    discount_source = "test"

    def __init__(self, limits):
        self.limits = limits
        self.batches = []

    def entry(self, cid, request):
        return {"custom_id": cid, "n": len(request.image.data)}

    def entry_bytes(self, entry):
        return 100

    async def submit(self, entries, label):
        self.batches.append(len(entries))
        return f"b{len(self.batches)}"


class FakeStore:
    def __init__(self, path):
        self.path, self.records = path, {}

    def append(self, record):
        assert record["frame_id"] not in self.records
        self.records[record["frame_id"]] = record

    def has(self, frame_id):  # the run store's recorded-id check (bench.store.RunStore.has)
        return frame_id in self.records


@pytest.mark.parametrize(("limits", "settings", "want"), [
    (BatchLimits(None, 350, "t"), BatchConfig(), [3, 3, 3, 1]),  # bytes bind: 3 x 100 fit in 350
    (BatchLimits(4, 10**9, "t"), BatchConfig(), [4, 4, 2]),  # count binds
    (BatchLimits(50_000, 10**9, "t"), BatchConfig(max_requests=5), [5, 5]),  # the config's own cap
])
def test_requests_split_by_count_and_bytes(tmp_path, frames10, prompt, limits, settings, want):
    provider = FakeProvider(limits)
    runner = BatchRunner(provider=provider, prompt=prompt, sampling=Sampling(), reasoning=REQ.reasoning,
                         encode=EncodeSettings(256, 80, 10**7), price=batch_price(
                             SimpleNamespace(input_per_million=1.0, output_per_million=2.0, source="s", date="d",
                                             catalog_provider="", catalog_model=""), 0.5, "doc"),
                         store=FakeStore(tmp_path), session=1, settings=settings)
    asyncio.run(runner.submit(frames10))
    assert provider.batches == want
    journal = Journal(tmp_path)
    assert sum(len(e.frames) for e in journal.entries.values()) == 10
    assert all(e.batch_id and e.open for e in journal.entries.values())


def test_one_request_over_the_byte_limit_is_a_bad_input_not_a_lost_frame(tmp_path, frames10, prompt):
    provider = FakeProvider(BatchLimits(None, 50, "t"))
    store = FakeStore(tmp_path)
    runner = BatchRunner(provider=provider, prompt=prompt, sampling=Sampling(), reasoning=REQ.reasoning,
                         encode=EncodeSettings(256, 80, 10**7), price=batch_price(
                             SimpleNamespace(input_per_million=None, output_per_million=None, source="", date="",
                                             catalog_provider="", catalog_model=""), 0.5, "doc"),
                         store=store, session=1, settings=BatchConfig())
    asyncio.run(runner.submit(frames10[:2]))
    assert provider.batches == []
    assert [r["error"]["kind"] for r in store.records.values()] == ["bad_input", "bad_input"]
    assert "max_side" in next(iter(store.records.values()))["error"]["message"]


def price(**kw):
    base = dict(input_per_million=None, output_per_million=None, source="", date="", catalog_provider="",
                catalog_model="")
    return SimpleNamespace(**{**base, **kw})


def test_batch_price_from_the_database_when_it_has_one():
    p = batch_price(price(input_per_million=2.0, output_per_million=8.0, catalog_provider="openai",
                          catalog_model="gpt-4.1"), 0.5, "doc")
    assert (p.input_per_million, p.output_per_million) == pytest.approx((1.0, 4.0))
    assert "batch price" in p.source and "genai-prices" in p.source


def test_batch_price_is_the_documented_discount_when_the_database_has_none():
    # genai-prices has no batch variant for the retired Claude Sonnet 4 snapshot.
    p = batch_price(price(input_per_million=3.0, output_per_million=15.0, source="list", date="2025-05",
                          catalog_provider="anthropic", catalog_model="claude-sonnet-4-20250514"), 0.5, "Anthropic doc")
    assert (p.input_per_million, p.output_per_million) == pytest.approx((1.5, 7.5))
    assert "x 0.5: Anthropic doc" in p.source and "2025-05" in p.source


def test_journal_skips_a_torn_last_line_and_keeps_what_was_written(tmp_path):
    j = Journal(tmp_path)
    j.write("prepared", label="L", frames={"c1": "f1"}, requests=1, bytes=10)
    j.write("submitted", label="L", batch_id="B")
    with j.path.open("a") as fh:
        fh.write('{"event": "fetched", "label": "L"')  # killed mid-write
    again = Journal(tmp_path)
    assert again.torn == 1 and again.entries["L"].batch_id == "B" and again.entries["L"].open
    assert again.frames_in_open_batches() == {"f1"}


@pytest.mark.parametrize(("override", "words"), [
    ("runner.batch.discount=1.5", "runner.batch.discount"),
    ("runner.batch.poll_interval_s=0", "poll_interval_s"),
    ("model.sim.batch_result_faults=[typo]", "typo unknown"),
    ("model.sim.batch_error_rate=2", "batch_error_rate"),
])
def test_bad_batch_settings_are_refused_naming_the_key(override, words):
    from hydra import compose, initialize_config_dir

    from bench.__main__ import conf_dir
    from bench.app import ConfigError, check_config
    from bench.config import register

    register()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["runner=batch", override])
    with pytest.raises(ConfigError, match=re.escape(words)):
        check_config(cfg)


def test_a_batch_the_provider_refused_records_its_frames_with_the_reason(tmp_path, frames10, prompt):
    from bench.batch.base import BatchStatus

    class Refusing(FakeProvider):
        async def status(self, batch_id):
            return BatchStatus(phase="failed", provider_status="failed", error="line 3: url is not the endpoint")

    provider = Refusing(BatchLimits(4, None, "t"))
    store = FakeStore(tmp_path)
    runner = BatchRunner(provider=provider, prompt=prompt, sampling=Sampling(), reasoning=REQ.reasoning,
                         encode=EncodeSettings(256, 80, 10**7), price=batch_price(price(), 0.5, "doc"), store=store,
                         session=1, settings=BatchConfig(poll_interval_s=0.01))
    runner.frames = {f.id: f for f in frames10[:6]}
    asyncio.run(runner.submit(frames10[:6]))
    asyncio.run(runner.poll_all())
    assert provider.batches == [4, 2]
    errors = [r["error"] for r in store.records.values()]
    assert len(errors) == 6 and {e["kind"] for e in errors} == {"batch_failed"}
    assert all("url is not the endpoint" in e["message"] for e in errors)
    assert not any(e.open for e in Journal(tmp_path).entries.values())
