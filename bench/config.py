"""Structured configs: the typed shape of everything under conf/.

Hydra merges the YAML files onto these dataclasses, so a misspelt key or a
wrong type fails at once with the key's name (e.g. "Key 'temprature' not in
'SamplingConfig'") instead of being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class PriceConfig:
    """$ per 1M tokens, with where the figure came from and when."""

    input_per_million: float | None = None
    output_per_million: float | None = None
    source: str = ""
    date: str = ""
    # Look the price up in the offline price database (bench/prices.py) when not stated above.
    catalog_provider: str = ""  # genai-prices provider id: openai, anthropic, google
    catalog_model: str = ""


@dataclass
class GpuConfig:
    """Self-hosted cost: GPU $/hour x GPUs at the throughput the run measured."""

    name: str = ""
    hourly_usd: float | None = None
    count: int = 1
    source: str = ""
    date: str = ""


@dataclass
class SamplingConfig:
    temperature: float | None = 0.1
    max_tokens: int = 2000
    top_p: float | None = None
    seed: int | None = None
    response_format: str = "json_object"  # json_object | json_schema | none
    image_detail: str = "high"
    # Reasoning models (bench/backends/families.py checks each against the model before a run):
    reasoning_effort: str | None = None  # OpenAI reasoning_effort; Claude adaptive thinking + output_config.effort
    thinking_budget: int | None = None  # Claude thinking.budget_tokens; Gemini 2.5 thinking_config.thinking_budget
    thinking_level: str | None = None  # Gemini 3.x thinking_config.thinking_level: minimal | low | medium | high
    # The OpenAI protocol's output cap: max_completion_tokens (OpenAI, current vLLM) or the older max_tokens,
    # for a server that only takes that (OpenAI's reasoning models refuse max_tokens).
    max_tokens_field: str = "max_completion_tokens"


@dataclass
class SimConfig:
    """Knobs of the embedded simulator (bench.sim). Rates are per attempt, in [0, 1]."""

    seed: int = 0
    ttft_s: float = 0.05
    ttft_jitter_s: float = 0.02
    per_token_s: float = 0.002
    per_token_jitter_s: float = 0.001
    image_tokens: int = 256  # Gemma-3 encodes an image as 256 tokens
    # Tokens per streamed chunk after the first, as `vllm serve --stream-interval N` sends them: fewer chunks,
    # less host work on both ends (the scale benchmarks use it; 1 = one chunk per token, vLLM's default).
    stream_interval: int = 1
    caption_quality: float = 1.0  # 1.0 = faithful derived caption; lower drops/garbles fields
    malformed_rate: float = 0.0
    truncation_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_s: float = 0.2
    server_error_rate: float = 0.0
    hang_rate: float = 0.0
    hang_s: float = 3600.0
    disconnect_rate: float = 0.0
    block_rate: float = 0.0  # safety block / refusal (content_filter, refusal, SAFETY)
    # Per frame, the probability that one caption field (content_type, style, quality, environment, summary or
    # objects) is perturbed, deterministically by seed and image: plants instability for temporal scores.
    temporal_jitter: float = 0.0
    references: str | None = None  # manifest whose reference captions the sim derives from
    require_api_key: str | None = None  # if set, any other key gets 401 in the protocol's shape
    model_names: list[str] = field(default_factory=list)  # served models; empty = accept any name
    # Asked for a reasoning model by name (gpt-5*, o3*, claude with thinking, gemini-2.5/3*: bench/sim/reasoning.py),
    # the simulator reasons: this many tokens at the default effort, billed as output, before the answer.
    reasoning_tokens: int = 384
    thinking_s: float | None = None  # time spent thinking; None = reasoning tokens x per_token_s
    # Simulator servers to start (model.serve=sim), each on its own port: replicas behind one model
    # (bench/backends/replicas.py). Read by the harness; the simulator process ignores it.
    replicas: int = 1
    # Batch APIs (bench/sim/batch.py): submit -> ended in this many seconds (the real ones take hours),
    # per-item failures in the provider's shape, a batch that never ends, a damaged results file.
    batch_turnaround_s: float = 2.0
    batch_error_rate: float = 0.0
    batch_expire_rate: float = 0.0
    batch_never_finish: bool = False
    batch_result_faults: list[str] = field(default_factory=list)  # unknown_id | duplicate | missing | non_json
    # Judge mode (bench/sim/judge.py): error kinds the simulated judge does not notice (bench.score.calibrate
    # KINDS, e.g. [invented_logo]) and, in pairwise mode, the probability it prefers whichever caption is shown first.
    judge_blind: list[str] = field(default_factory=list)
    judge_position_bias: float = 0.0
    # Window modes (bench/sim/windows.py): `frame` answers every window request with the first frame's
    # single-frame caption, as a model that ignores the window prompt would.
    window_answers: str = "window"  # window | frame


@dataclass
class VllmConfig:
    """`vllm serve` flags for model.serve=vllm (bench/serving.py builds the command line)."""

    model: str = ""  # HF id or local path of the weights to serve (required with serve=vllm)
    command: list[str] = field(default_factory=lambda: ["vllm", "serve"])  # a stand-in command in tests
    quantization: str | None = None  # fp8 (online FP8) | None (pre-quantized checkpoints say so themselves)
    dtype: str = "auto"  # bfloat16 for the BF16 weights
    kv_cache_dtype: str | None = None  # fp8
    max_model_len: int = 8192
    limit_mm_per_prompt: str = '{"image": 1}'  # one frame per request
    gpu_memory_utilization: float = 0.90
    tensor_parallel_size: int = 1
    structured_outputs_backend: str | None = None  # auto | xgrammar | guidance
    stream_interval: int = 1  # --stream-interval: tokens per streamed chunk after the first (vLLM >= 0.11)
    extra_args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0  # 0 = a free port
    startup_timeout_s: float = 1200.0  # loading ~14 GB of weights and compiling takes minutes
    require_gpu: bool = True  # refuse early, with the alternatives, when nvidia-smi finds no GPU
    # Data-parallel replicas on one machine: `replicas` servers, each on its own port and its own
    # tensor_parallel_size GPUs (CUDA_VISIBLE_DEVICES), requests to the least loaded
    # (bench/backends/replicas.py). `gpus` lists the GPU indices to use; empty = 0, 1, 2, ...
    replicas: int = 1
    gpus: list[int] = field(default_factory=list)


@dataclass
class ModelConfig:
    name: str = MISSING  # the model id sent to the server
    label: str = ""  # display name; defaults to the config choice
    backend: str = "openai_chat"  # the wire protocol: a module in bench/backends/
    serve: str = ""  # "" = already running at base_url; "sim" = the embedded simulator; "vllm" = `vllm serve`
    # One URL, or a list of replicas of the same model (data-parallel vLLM servers, several hosted
    # endpoints): each request goes to the least-loaded one (bench/backends/replicas.py).
    base_url: Any = None  # str | list[str] | None (OmegaConf has no union types)
    api_key_env: str | None = None  # the variable holding the key; the key itself is never stored
    simulated: bool = False
    precision: str = ""  # e.g. fp8, bf16 (self-hosted) or "" for APIs
    hosting: str = "api"  # api | self-hosted | simulator
    stream: bool = True  # stream so that TTFT is measured
    # Refuse, before anything is sent, a request the model is known not to take (bench/backends/families.py).
    # false sends it anyway: for a model newer than capbench's table, or to see the server's own answer.
    check_request: bool = True
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    price: PriceConfig = field(default_factory=PriceConfig)
    gpu: GpuConfig = field(default_factory=GpuConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    vllm: VllmConfig = field(default_factory=VllmConfig)
    extra_body: dict[str, Any] = field(default_factory=dict)
    extra_headers: dict[str, str] = field(default_factory=dict)
    # The model this one was distilled from (e.g. ClipTagger's teacher), if known: a judge of the teacher's
    # family may prefer this model's captions too (self-preference, bench.score.panel).
    teacher: str = ""


@dataclass
class DatasetConfig:
    name: str = MISSING
    path: str = MISSING  # folder holding the manifest; relative paths are from the project root
    manifest: str = "manifest.jsonl"
    kind: str = "manifest"  # manifest | folder | video
    limit: int | None = None  # first N frames only
    # Shard `shard` of `num_shards` (bench/frames/shards.py: sha256 of the frame id mod N), e.g. one Hydra job
    # each: `-m dataset.shard=range(0,4) dataset.num_shards=4`; bench.shards reads the N run folders as one run.
    shard: int | None = None
    num_shards: int = 1
    max_side: int = 1024  # resize so the long side is at most this (pixels)
    jpeg_quality: int = 90
    max_pixels: int = 50_000_000  # larger images are refused as decompression bombs
    build_hint: str = ""  # how to build the images if they are missing
    # kind=folder: which files count as images
    extensions: list[str] = field(default_factory=lambda: [".jpg", ".jpeg", ".png", ".webp"])
    # kind=video (bench/sources/video.py): which files are videos, and how frames are taken
    video_extensions: list[str] = field(default_factory=lambda: [
        ".mp4", ".mkv", ".webm", ".avi", ".mov", ".mpg", ".mpeg", ".ogv", ".ogg", ".m4v", ".ts", ".flv", ".wmv"])
    sampling: str = "fps"  # fps: every 1/fps seconds | scenes: one frame per shot (scene change)
    fps: float = 1.0
    scene_threshold: float = 22.0  # novelty (mean abs grey-level diff of 32x24 thumbnails) that starts a shot
    max_frames_per_video: int = 100  # spread evenly over the video when there would be more
    cache_dir: str = ".cache/capbench/frames"  # extracted frames, reused across runs (relative: project root)


@dataclass
class RulesConfig:
    """The prompt's own rules, checked on schema-valid captions (the ladder's last rung)."""

    max_items: dict[str, int] = field(default_factory=dict)  # field -> max array length
    max_sentences: dict[str, int] = field(default_factory=dict)  # field -> max sentences
    banned_leadins: list[str] = field(default_factory=list)  # may not start a leadin_fields value
    leadin_fields: list[str] = field(default_factory=list)
    banned_phrases: list[str] = field(default_factory=list)  # may not occur anywhere in a phrase_fields value
    phrase_fields: list[str] = field(default_factory=list)  # strings and string items of arrays
    non_empty: list[str] = field(default_factory=list)  # string fields that must not be blank


@dataclass
class PromptConfig:
    name: str = MISSING
    version: str = "1"
    source: str = ""
    system: str = MISSING
    user: str = MISSING
    json_schema: dict[str, Any] = field(default_factory=dict)
    rules: RulesConfig = field(default_factory=RulesConfig)


@dataclass
class RetryConfig:
    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_total_s: float = 300.0  # give up on a frame after this long, whatever the attempts
    respect_retry_after: bool = True


@dataclass
class BatchConfig:
    """runner=batch: the provider's Batch API (bench/batch/). Limits default to the provider's own."""

    poll_interval_s: float = 30.0
    timeout_s: float = 86400.0  # stop polling after this long in one session (resumable: batches keep running)
    max_requests: int | None = None  # per batch; None = the provider's limit (bench/batch/<provider>.py)
    max_bytes: int | None = None
    # Batch price = on-demand price x this, when the price database has no batch price for the model.
    discount: float = 0.5
    discount_source: str = ""  # "" = the provider's documented discount (bench/batch/<provider>.py)
    retry_on_demand: bool = False  # retry_failed=true sends the failed frames on demand instead of by batch


@dataclass
class RunnerConfig:
    mode: str = "closed"  # closed (at most `concurrency` in flight) | open (Poisson arrivals at `rate`)
    concurrency: int = 8
    rate: float | None = None  # requests/s, open loop only
    seed: int = 0
    request_timeout_s: float = 120.0  # per attempt, whole stream
    progress: bool = True
    event_loop: str = "auto"  # auto (uvloop when installed) | uvloop | asyncio: bench.eventloop
    retry: RetryConfig = field(default_factory=RetryConfig)
    batch: BatchConfig = field(default_factory=lambda: BatchConfig())


@dataclass
class RubricConfig:
    """A judge rubric (conf/judge/rubric/). Bump `version` whenever the text changes: it keys the judge cache."""

    name: str = MISSING
    version: str = MISSING
    system: str = MISSING
    user: str = MISSING  # template: {{candidate}} and {{reference_section}} are filled in (bench.score.judge)
    reference_section: str = ""  # template with {{reference}}, used when judge.with_reference is true
    marker: str = ""  # a distinctive phrase of `user`; the simulator's judge mode looks for it
    # v2: show the reference whenever the frame has one (CapArena: reference-guided judging ranks closer to people)
    reference_by_default: bool = False


@dataclass
class PanelConfig:
    """Several judges at once (bench.score.panel): each a conf/judge/ name; the panel score is their mean."""

    judges: list[str] = field(default_factory=list)  # empty: not a panel
    exclude_self: bool = False  # leave a judge of the candidate model's family out of that model's panel score


@dataclass
class JudgeConfig:
    """An LLM judge (conf/judge/): any model config can judge, plus the rubric and how to ask."""

    label: str = MISSING  # the judge's name in results, e.g. gemini-2.5-pro
    model: ModelConfig = field(default_factory=ModelConfig)  # backend, name, key, price; sampling as the judge uses
    rubric: RubricConfig = field(default_factory=RubricConfig)
    with_reference: bool = False  # also show the judge the reference caption
    repeats: int = 1  # ask N times per item (agreement statistics); each repeat is cached separately
    parse_retries: int = 2  # extra requests when a verdict is not the JSON the rubric asks for
    concurrency: int = 4
    request_timeout_s: float = 120.0
    retry: RetryConfig = field(default_factory=RetryConfig)
    cache: str | None = None  # SQLite path; None = bench.score.cache.default_cache_path() ($CAPBENCH_CACHE_DIR)
    panel: PanelConfig = field(default_factory=PanelConfig)  # judges=[...]: a panel (then model/rubric are unused)


@dataclass
class GateValidityConfig:
    """Schema validity: an absolute floor, and no significant drop against the baseline."""

    enabled: bool = True
    rung: str = "schema_valid"  # json_strict | json_lenient | schema_valid | rules_ok
    min_rate: float = 0.95  # absolute floor on the run's rate at that rung
    max_drop: float = 0.0  # a significant drop (rate points, 0-1) larger than this fails


@dataclass
class GateQualityConfig:
    """A score (judge 1-5, or ROUGE/BLEU 0-100) must not drop significantly against the baseline."""

    enabled: bool = True
    metric: str = ""  # judge: unused; overlap: rouge1 | rouge2 | rougeL | bleu
    max_drop: float = 0.0  # a significant drop larger than this, in the metric's units, fails


@dataclass
class GateRatioConfig:
    """run / baseline must stay at or under max_ratio (p95 latency, cost per 1M generations)."""

    enabled: bool = True
    max_ratio: float = 1.5


@dataclass
class GatePairwiseConfig:
    """The candidate may not lose significantly to its baseline in its pairwise ranking (bench.gate.pairwise_check)."""

    enabled: bool = True
    alpha: float | None = None  # None: the gate's alpha; the ranking's p-value is two-sided (bootstrap over frames)
    required: bool = False  # a run never ranked against the baseline: skip (false) or fail (true)


@dataclass
class GateConfig:
    """Thresholds of `python -m bench.gate` (conf/gate/*.yaml; choose with gate=NAME)."""

    name: str = "default"
    alpha: float = 0.05  # one-sided significance level of "a significant drop"
    resamples: int = 10000  # permutation / bootstrap resamples for paired tests
    seed: int = 0
    missing: str = "fail"  # a metric the baseline has but the run lacks: fail | skip
    same_dataset: bool = True  # refuse (exit 2) a baseline measured on another dataset
    schema_validity: GateValidityConfig = field(default_factory=GateValidityConfig)
    judge: GateQualityConfig = field(default_factory=GateQualityConfig)
    rouge: GateQualityConfig = field(default_factory=lambda: GateQualityConfig(metric="rougeL"))
    latency_p95: GateRatioConfig = field(default_factory=GateRatioConfig)
    cost: GateRatioConfig = field(default_factory=lambda: GateRatioConfig(max_ratio=1.1))
    pairwise: GatePairwiseConfig = field(default_factory=GatePairwiseConfig)


@dataclass
class TemporalConfig:
    """Temporal scores (bench.score.temporal; README, "Temporal scores"): the caption-change boundary detector."""

    k: int = 3  # a boundary where at least k of boundary_fields change between adjacent frames
    boundary_fields: list[str] = field(default_factory=lambda: [
        "content_type", "specific_style", "production_quality", "environment", "description", "summary", "objects"])
    change_below: float = 0.5  # a text field or the object list "changes" when its word-set Jaccard is below this
    tolerance: int = 0  # a detected boundary matches a true cut this many adjacent-pair positions away


@dataclass
class ExportConfig:
    """Where a finished run is also sent (bench.export; conf/export/): none, a local MLflow store or W&B offline."""

    to: str = "none"  # none | mlflow | wandb
    tracking_uri: str | None = None  # mlflow: None = $MLFLOW_TRACKING_URI, else sqlite:///<runs_dir>/mlflow.db
    artifact_location: str | None = None  # mlflow: for a new experiment; None = <runs_dir>/mlflow-artifacts
    experiment: str = "capbench"  # mlflow experiment / wandb project
    entity: str | None = None  # wandb: team or user (online only)
    mode: str | None = None  # wandb: offline | online; None = $WANDB_MODE, else offline (nothing leaves the machine)
    dir: str | None = None  # wandb: where offline runs are kept; None = <runs_dir>
    artifacts: bool = True  # also upload config.yaml, metrics.json, scores.jsonl (and the report, when given)


@dataclass
class ModeConfig:
    """What one request captions (conf/mode/; README "Window captioning"): one frame (the default), a window
    of frames of one video as several images / one grid image / one clip, two adjacent frames and the previous
    caption (sliding), or a clip's earlier captions as text (summary). Grouping: bench.frames.windows."""

    kind: str = "frame"  # frame | window | grid | sliding | summary
    frames: int = 4  # window, grid: consecutive frames of one video per window
    window_s: float | None = None  # window, grid: windows of this many seconds instead (needs timestamp_s)
    video: bool = False  # window: send the window as one mp4 clip (Gemini video part) instead of images
    grid_cols: int | None = None  # grid: columns; None = ceil(sqrt(frames))
    tile_side: int = 384  # grid: each tile's long side in pixels
    from_run: str | None = None  # summary: the frame or sliding RUN_DIR whose captions are summarised


@dataclass
class ExperimentConfig:
    """conf/experiment/ (`experiment=NAME`): a named experiment. card=true runs the model card's pipeline
    (bench.card): the teacher, then each model, scored against the teacher's run and by the judge, ranked
    pairwise, written to one experiment folder with card.json and a report whose first section is the card."""

    name: str = ""
    card: bool = False
    teacher: str = "gemini-2.5-pro"  # conf/model/ name; the card does not name its teacher
    models: list[str] = field(default_factory=list)  # conf/model/ names, in the card's order
    # A run on the simulator instead: each model by its stand-in (conf/model/ sim config), labelled SIMULATED,
    # with the real model's name recorded; `real` lists models run for real all the same.
    simulate: bool = False
    stand_ins: dict[str, str] = field(default_factory=dict)  # real model -> conf/model/ sim config
    stand_in_sim: dict[str, Any] = field(default_factory=dict)  # real model -> model.sim knobs of its stand-in
    real: list[str] = field(default_factory=list)
    model_overrides: dict[str, list[str]] = field(default_factory=dict)  # model -> [model.KEY=VALUE, ...]
    pairwise: bool = True  # the pairwise ranking of the models (bench.score.pairwise), by the run's judge
    pairwise_max_battles: int | None = None  # sample that many battles (each asked in both orders)
    dir: str | None = None  # the experiment folder; None = <runs_dir>/card/<name>/<UTC time>; an old one resumes


@dataclass
class Config:
    model: ModelConfig = MISSING
    dataset: DatasetConfig = MISSING
    prompt: PromptConfig = MISSING
    mode: ModeConfig = field(default_factory=ModeConfig)  # conf/mode/: frame (default), window, grid, sliding...
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    runs_dir: str = "runs"
    resume: str = "auto"  # auto: continue the newest unfinished run of the same config | never
    run_dir: str | None = None  # write to (or resume) exactly this folder
    retry_failed: bool = False  # resume even a finished run and send its failed frames again
    judge: JudgeConfig | None = None  # score with an LLM judge (conf/judge/); None = no judge
    reference: str | None = None  # "dataset" (the manifest's reference captions) or a teacher RUN_DIR
    temporal: TemporalConfig = field(default_factory=TemporalConfig)  # temporal scores (scoring, not the run)
    export: ExportConfig = field(default_factory=ExportConfig)  # also send the run to MLflow / W&B (bench.export)
    experiment: ExperimentConfig | None = None  # conf/experiment/: experiment=cliptagger_card (bench.card)


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
