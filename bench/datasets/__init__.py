"""Frame datasets built reproducibly from pinned Debian packages.

A dataset lives in ``datasets/<name>/`` and is described by ``sources.yaml``
(the pinned spec, :mod:`.spec`).  ``python -m bench.datasets build <name>``
(:mod:`.build`) fetches each pinned .deb (:mod:`.debian`: apt-get, else a
Debian mirror, :mod:`.mirror`), unpacks the members it needs in pure Python
(:mod:`.debfile`), cuts the
listed frames or lets a selector choose them (:mod:`.selectors`: shot
detection), decodes sequentially without seeking (:mod:`.frames`), resizes,
writes deterministic JPEGs to ``images/``, then ``manifest.jsonl``
(:mod:`.manifest`, merged with the hand-written ``references.jsonl``) and
``NOTICE.md`` (:mod:`.notice`).  The sample and frames1k differ only in their
spec.
"""

from __future__ import annotations

from .build import DEFAULT_CACHE, BuildReport, build
from .debian import apt_get_download
from .manifest import (
                       MANIFEST_KEYS,
                       REFERENCE_KEYS,
                       SOURCE_KEYS,
                       count_sentences,
                       read_jsonl,
                       render_manifest,
                       validate_manifest_entry,
                       validate_reference,
)
from .notice import render_notice
from .spec import (
                       CONTENT_TYPES,
                       ID_RE,
                       DatasetSpec,
                       FrameSpec,
                       PackageSpec,
                       Pick,
                       SourceSpec,
                       SpecError,
                       find_spec,
                       frame_id,
                       load_spec,
                       register_selector,
)

__all__ = [
    "SpecError", "DatasetSpec", "SourceSpec", "FrameSpec", "PackageSpec", "Pick", "BuildReport",
    "load_spec", "find_spec", "frame_id", "register_selector", "build", "render_manifest",
    "render_notice", "read_jsonl", "validate_reference", "validate_manifest_entry", "count_sentences",
    "apt_get_download", "ID_RE", "REFERENCE_KEYS", "MANIFEST_KEYS", "SOURCE_KEYS", "CONTENT_TYPES",
    "DEFAULT_CACHE",
]
