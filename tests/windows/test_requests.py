"""Window requests on the wire: several images (or one mp4 clip, or none) the native way per protocol, and
the simulator answering each deterministically in the window prompt's schema, counting what it got."""

import base64
import contextlib
import hashlib
import json

import httpx
import pytest
from omegaconf import OmegaConf

from bench.backends import BASE_URL_SUFFIX
from bench.backends.anthropic_messages import AnthropicMessagesBackend
from bench.backends.anthropic_messages import build_params as anthropic_params
from bench.backends.base import BackendError, CaptionRequest, ImageInput, Sampling
from bench.backends.families import image_count_problems
from bench.backends.gemini import GeminiBackend, build_contents
from bench.backends.openai_chat import OpenAIChatBackend, build_messages
from bench.config import PromptConfig, SimConfig
from bench.frames.clip import encode_clip, tile_grid
from bench.sim.server import SimServer
from bench.sim.testing import FAST, jpeg, solid
from bench.validity import assess
from bench.window_runner import fill, image_tokens_of

from ..conftest import ROOT

BACKENDS = {"openai_chat": OpenAIChatBackend, "anthropic": AnthropicMessagesBackend, "gemini": GeminiBackend}
COLOURS = [(200, 30, 30), (200, 30, 30), (30, 30, 200)]  # two red frames, a cut, a blue one


def image(rgb) -> ImageInput:
    data = jpeg(solid(rgb, (160, 90)))
    return ImageInput(data, "image/jpeg", 160, 90, hashlib.sha256(data).hexdigest())


IMAGES = tuple(image(c) for c in COLOURS)


def prompt(name: str) -> PromptConfig:
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PromptConfig),
                                               OmegaConf.load(ROOT / f"conf/prompt/{name}.yaml")))


WINDOW = prompt("window_v1")


def window_request(**kw) -> CaptionRequest:
    user = fill(WINDOW.user, {"frames": 3, "timestamps": "0, 1, 2"})
    return CaptionRequest(**{"images": IMAGES, "system": WINDOW.system, "user": user,
                             "sampling": Sampling(), **kw})


def test_openai_sends_several_image_url_parts_in_order_after_the_text():
    content = build_messages(window_request())[1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "image_url", "image_url"]
    urls = [p["image_url"]["url"] for p in content[1:]]
    assert urls == [f"data:image/jpeg;base64,{i.base64}" for i in IMAGES]
    # the streamed path's prebuilt body carries the same parts (the one-image splice does not apply)
    backend = OpenAIChatBackend("m", "http://127.0.0.1:9/v1", "k")
    body = json.loads(backend._body(window_request()))
    assert [p["image_url"]["url"] for p in body["messages"][1]["content"][1:]] == urls
    text_only = json.loads(backend._body(window_request(images=())))
    assert text_only["messages"][1]["content"] == [{"type": "text", "text": window_request().user}]


def test_anthropic_sends_image_blocks_in_order_before_the_text():
    content = anthropic_params("claude-sonnet-4", window_request())["messages"][0]["content"]
    assert [b["type"] for b in content] == ["image", "image", "image", "text"]
    assert [base64.b64decode(b["source"]["data"]) for b in content[:3]] == [i.data for i in IMAGES]


def test_gemini_sends_inline_parts_or_one_mp4_video_part():
    parts = build_contents(window_request())[0].parts
    assert [p.inline_data.mime_type for p in parts[:3]] == ["image/jpeg"] * 3 and parts[3].text
    clip = encode_clip(list(IMAGES), [0.0, 1.0, 2.0])
    parts = build_contents(window_request(images=(), video=clip))[0].parts
    assert len(parts) == 2 and parts[0].inline_data.mime_type == "video/mp4" and parts[0].inline_data.data == clip.data


@pytest.mark.parametrize("build", [lambda r: build_messages(r), lambda r: anthropic_params("claude-sonnet-4", r)])
def test_a_video_part_on_a_protocol_without_video_is_refused_by_name(build):
    clip = encode_clip(list(IMAGES), None)
    with pytest.raises(BackendError) as err:
        build(window_request(images=(), video=clip))
    assert err.value.kind == "unsupported_request" and "mode.video" in err.value.message


def test_per_model_image_limits():
    assert image_count_problems("anthropic", "claude-sonnet-4", 100) == []
    assert "at most 100" in image_count_problems("anthropic", "claude-sonnet-4", 101)[0]
    assert "limit_mm_per_prompt" in image_count_problems("openai_chat", "x", 4, serve="vllm",
                                                          vllm_limit='{"image": 1}')[0]
    assert image_count_problems("openai_chat", "x", 4, serve="vllm", vllm_limit='{"image": 4}') == []


@contextlib.asynccontextmanager
async def connected(protocol, server):
    backend = BACKENDS[protocol]("capbench-sim", server.base_url + BASE_URL_SUFFIX[protocol], "sim-key")
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.mark.parametrize("protocol", sorted(BACKENDS))
async def test_the_simulator_answers_a_window_in_its_schema_on_each_protocol(protocol):
    with SimServer(SimConfig(**FAST)).in_thread() as server:
        async with connected(protocol, server) as backend:
            first = await backend.generate(window_request())
            again = await backend.generate(window_request())
        stats = httpx.get(server.base_url + "/sim/stats").json()
    assert first.simulated and first.text == again.text  # deterministic
    wire = {"openai_chat": "openai", "anthropic": "anthropic", "gemini": "gemini"}[protocol]
    assert stats["images"] == {wire: 6}  # two requests of three images each, counted by the simulator
    verdict, caption = assess(first.text, first.finish_reason, WINDOW.json_schema, WINDOW.rules)
    assert verdict.category == "valid", verdict.reasons
    # derived from the images it got: two red frames then a blue one is one scene change, at t=2
    assert [c["t_s"] for c in caption["scene_changes"]] == [2.0]
    assert len(caption["events"]) == 2
    # every image is paid for: 3 images at image_tokens each
    assert first.usage.input_tokens >= 3 * 256


async def test_the_simulator_reads_a_grid_tile_by_tile_and_a_gemini_clip_frame_by_frame():
    grid, layout = tile_grid(list(IMAGES), cols=None, tile_side=96)
    grid_prompt = prompt("grid_v1")
    user = fill(grid_prompt.user, {"frames": 3, "timestamps": "0, 1, 2", "grid": layout.describe()})
    clip = encode_clip(list(IMAGES), [0.0, 1.0, 2.0])
    with SimServer(SimConfig(**FAST)).in_thread() as server:
        async with connected("openai_chat", server) as backend:
            by_grid = await backend.generate(CaptionRequest(images=(grid,), system="s", user=user,
                                                            sampling=Sampling()))
        async with connected("gemini", server) as backend:
            by_clip = await backend.generate(window_request(images=(), video=clip))
    for out, schema in ((by_grid, grid_prompt), (by_clip, WINDOW)):
        verdict, caption = assess(out.text, out.finish_reason, schema.json_schema, schema.rules)
        assert verdict.category == "valid", verdict.reasons
        assert [c["t_s"] for c in caption["scene_changes"]] == [2.0]
    # Gemini reports the clip's frames as video tokens (3 frames x 256); image_tokens counts them
    details = {d["modality"]: d["token_count"] for d in by_clip.usage.raw["prompt_tokens_details"]}
    assert details["VIDEO"] == 3 * 256 and "IMAGE" not in details
    assert image_tokens_of(by_clip.usage.raw) == 3 * 256


async def test_a_model_answering_a_window_with_a_frame_caption_is_schema_invalid():
    with SimServer(SimConfig(**FAST, window_answers="frame")).in_thread() as server:
        async with connected("openai_chat", server) as backend:
            out = await backend.generate(window_request())
    verdict, caption = assess(out.text, out.finish_reason, WINDOW.json_schema, WINDOW.rules)
    assert "objects" in caption and "logos" in caption  # the single-frame ClipTagger caption
    assert verdict.category == "schema_invalid" and not verdict.schema_valid
