"""Leaderboard submission bundles: build one from results, validate one before sending it.

A bundle (a folder, zipped) holds ``metadata.json``, ``results.json`` and
``runs/<dataset>.trec.gz`` (CQADupStack forums as ``cqadupstack-<forum>``); both JSON files
follow ``beirctl/schemas/submission.schema.json``.

Building never deletes or overwrites anything it did not make: an existing ``<out>/<label>``
or ``<out>/<label>.zip`` is an error, and ``force`` replaces it only when it is recognisably a
bundle (a folder holding nothing but ``metadata.json``, ``results.json`` and ``runs/*.trec.gz``,
or a zip of those, whose metadata has this module's schema).

Validation trusts nothing in the bundle: every run is re-scored against the local qrels and
compared with the scores claimed in ``results.json``, doc ids are checked against the local
corpus, the checksums in ``metadata.json`` against the local files, ranks against scores, and a
file the bundle does not declare is a problem. A zip is checked against size bounds derived
from the runs it may hold before anything is extracted, and extracted (counting the bytes
actually written) only into a private temporary folder.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from statistics import fmean
from typing import Any

from beirctl import provenance
from beirctl.atomic import atomic_path, write_json
from beirctl.datasets import catalog
from beirctl.datasets.download import SAFE_COMPRESSION, check_members, check_sizes, copy_member
from beirctl.datasets.loader import load_folder, load_qrels, qrels_path
from beirctl.datasets.paths import data_dir as resolve_data_dir
from beirctl.errors import BeirctlError, DataError, DownloadError
from beirctl.evaluation import evaluate, read_run, write_run
from beirctl.results import RUN_FILE, PairResult, ResultsError, cqadupstack_mean, pair_dir, retriever_scores
from beirctl.types import Dataset, Run

TOP_K = 1000
METADATA_SCHEMA = "beirctl.submission/1"
RESULTS_SCHEMA = "beirctl.submission-results/1"
METADATA_FILE = "metadata.json"
RESULTS_FILE = "results.json"
RUNS_DIR = "runs"

# Claimed and re-scored values must agree to the 4th decimal (half a unit of it either way).
SCORE_TOLERANCE = 5e-5

# Size bounds of a bundle. A run holds at most TOP_K lines per query; a TREC line
# ("qid Q0 docid rank score tag") is 40-120 bytes for BEIR ids, so 512 is generous. The gzipped
# run in the zip is smaller than its text; the same bound holds for both.
BYTES_PER_LINE = 512
RUN_SLACK = 1 << 20
DEFAULT_QUERIES = 10_000  # a dataset the catalog does not know and results.json lists no queries for
JSON_MAX_BYTES = 32 << 20  # results.json of a complete submission is ~2 MB
MAX_BUNDLE_BYTES = 8 << 30  # the whole bundle, extracted (a complete submission is ~1 GB)
MAX_LINE_BYTES = 4096
READ_BLOCK = 1 << 20
MAX_BUNDLE_RATIO = 100  # uncompressed / compressed per zip member (runs are gzip already: ~1x)

_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_SPLIT_KEY = re.compile(r"qrels/(.+)\.tsv:md5")


def required_datasets() -> list[str]:
    """Every public BEIR dataset of the benchmark, CQADupStack as its 12 forums."""
    return [name for ds in catalog.PUBLIC_BENCHMARK for name in catalog.expand(ds)]


def _run_name(dataset: str) -> str:
    return dataset.replace("/", "-") + ".trec.gz"


def schema() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (resources.files("beirctl.schemas") / "submission.schema.json").read_text(encoding="utf-8")
    )
    return doc


# --- build -------------------------------------------------------------------------------------


def check_label(label: str) -> None:
    """A label names ``<out>/<label>`` and ``<out>/<label>.zip``: one plain path component."""
    why = None
    if not label:
        why = "it is empty"
    elif "/" in label or "\\" in label or (os.altsep and os.altsep in label):
        why = "it holds a path separator"
    elif ".." in label:
        why = "it holds '..'"
    elif any(c.isspace() for c in label):
        why = "it holds whitespace"
    elif any(unicodedata.category(c) in ("Cc", "Cf") for c in label):
        why = "it holds a control character"
    elif label == ".":
        why = "it is '.'"
    if why:
        raise BeirctlError(
            f"retriever label {label!r} cannot name a bundle ({why}); use letters, digits, '.', '-' or '_'"
        )


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved, links followed) lies strictly inside ``root`` (resolved)."""
    real, base = path.resolve(), root.resolve()
    return real != base and real.is_relative_to(base)


def _json_schema_of(data: bytes) -> str | None:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc.get("schema") if isinstance(doc, dict) else None


def _is_bundle_dir(path: Path) -> bool:
    """A folder holding only metadata.json, results.json and runs/*.trec.gz, with our schema."""
    if path.is_symlink() or not path.is_dir():
        return False
    for entry in path.iterdir():
        if entry.name in (METADATA_FILE, RESULTS_FILE):
            if entry.is_symlink() or not entry.is_file():
                return False
        elif entry.name == RUNS_DIR:
            if entry.is_symlink() or not entry.is_dir():
                return False
            for run in entry.iterdir():
                if run.is_symlink() or not run.is_file() or not run.name.endswith(".trec.gz"):
                    return False
        else:
            return False
    meta = path / METADATA_FILE
    return (
        meta.is_file()
        and meta.stat().st_size <= JSON_MAX_BYTES
        and _json_schema_of(meta.read_bytes()) == METADATA_SCHEMA
    )


def _is_bundle_zip(path: Path) -> bool:
    """A zip of only metadata.json, results.json and runs/*.trec.gz, whose metadata has our schema."""
    if path.is_symlink() or not path.is_file() or not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if any(not _bundle_member_shape(i.filename) for i in infos):
                return False
            meta = next((i for i in infos if i.filename == METADATA_FILE), None)
            if meta is None or meta.file_size > JSON_MAX_BYTES:
                return False
            with zf.open(meta) as fh:
                return _json_schema_of(fh.read(JSON_MAX_BYTES + 1)) == METADATA_SCHEMA
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
        return False


def _bundle_member_shape(name: str) -> bool:
    if name in (METADATA_FILE, RESULTS_FILE, f"{RUNS_DIR}/"):
        return True
    parts = name.split("/")
    return len(parts) == 2 and parts[0] == RUNS_DIR and parts[1].endswith(".trec.gz") and ".." not in parts[1]


# --- metadata ----------------------------------------------------------------------------------

# What MTEB's results repository and the ir_metadata (PRIMAD) convention ask of a submission.
# ``--meta`` keys (dotted; the bare last part works too where it is unambiguous):
META_KEYS = {
    "model.name": "model name, e.g. BAAI/bge-base-en-v1.5",
    "model.revision": "model revision (commit, version or checkpoint)",
    "model.link": "link to the model or paper",
    "training.zero_shot": "true when the model was not trained on the evaluated datasets' data",
    "training.training_data": "comma-separated training data sets (e.g. msmarco,nq)",
    "training.saw_beir_test": "true when the model saw any BEIR test data (queries, qrels) in training",
    "code.repository": "repository of the code that produced the runs",
    "code.commit": "commit of that code",
    "hardware.*": "free-form hardware facts (e.g. hardware.gpu=A100), added to the recorded machine",
    "encoding.*": "encoding settings the retriever's parameters do not show (e.g. encoding.pooling=cls)",
    "reference": "a published reference (beirctl verify --list) the submission claims to reproduce",
}
REQUIRED_FIELDS = ("model.name", "model.revision", "training.zero_shot", "training.saw_beir_test")
LEXICAL_TYPES = frozenset({"bm25", "rank-bm25", "lucene-bm25", "pyserini-bm25"})
ENCODER_TYPES = frozenset({"dense", "splade"})
BM25_KEYS = (
    "k1",
    "b",
    "method",
    "variant",
    "fields",
    "title_weight",
    "text_weight",
    "stemmer",
    "stopwords",
    "epsilon",
    "delta",
)
ENCODING_KEYS = (
    "model",
    "encoder",
    "max_seq_length",
    "max_length",
    "pooling",
    "similarity",
    "normalize",
    "query_prefix",
    "passage_prefix",
    "dataset_overrides",
    "fp16",
    "dtype",
    "batch_size",
    "index",
)
EVALUATION_TOOL = "ir-measures (pytrec_eval), trec_eval semantics"
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_meta(options: list[str]) -> dict[str, str]:
    """``--meta key=value`` options as a dict (dotted keys, see :data:`META_KEYS`); an unknown key
    or an option without ``=`` is an error naming it."""
    short = {k.rsplit(".", 1)[-1]: k for k in META_KEYS if not k.endswith("*")}
    out: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BeirctlError(f"--meta {option!r}: expected key=value (keys: {', '.join(META_KEYS)})")
        key = short.get(key, key)
        if key not in META_KEYS and key.split(".", 1)[0] + ".*" not in META_KEYS:
            raise BeirctlError(f"--meta {key}: unknown key (keys: {', '.join(META_KEYS)})")
        out[key] = value.strip()
    return out


def _bool(key: str, value: str) -> bool:
    try:
        return _BOOLS[value.strip().lower()]
    except KeyError:
        raise BeirctlError(f"--meta {key}={value}: expected true or false") from None


def describe(entry: PairResult, given: dict[str, str], metrics: list[str]) -> dict[str, Any]:
    """The descriptive blocks of ``metadata.json`` for the retriever of ``entry``: model, training,
    code, hardware, encoding and BM25 settings, evaluation (tool and flags), taken from the config
    (the retriever's type, label and parameters), its recorded machine and ``given`` (``--meta``).

    beirctl's own lexical retrievers need nothing given (no trained model: zero-shot, no BEIR
    data seen; revision = the beirctl version); dense/SPLADE take the model name (and an
    ``@revision``) from their parameters; everything else must be given. Missing required fields
    are one error naming each with the ``--meta`` option that sets it."""
    rtype, label, params = entry.retriever.type, entry.retriever.label, entry.retriever.params
    version = entry.provenance.packages.get("beirctl")
    lexical = rtype in LEXICAL_TYPES
    name: str | None = given.get("model.name")
    revision: str | None = given.get("model.revision")
    model_param = params.get("model") if isinstance(params.get("model"), str) else None
    if rtype in ENCODER_TYPES and model_param:
        base, _, rev = model_param.partition("@")
        name = name or base
        revision = revision or rev or None
    if lexical:
        name = name or label
        revision = revision or (f"beirctl {version}" if version else None)
    zero_shot = _bool("training.zero_shot", given["training.zero_shot"]) if "training.zero_shot" in given else None
    saw = (
        _bool("training.saw_beir_test", given["training.saw_beir_test"]) if "training.saw_beir_test" in given else None
    )
    if lexical:
        zero_shot = True if zero_shot is None else zero_shot
        saw = False if saw is None else saw
    data = [d.strip() for d in given.get("training.training_data", "").split(",") if d.strip()]
    values: dict[str, Any] = {
        "model.name": name,
        "model.revision": revision,
        "training.zero_shot": zero_shot,
        "training.saw_beir_test": saw,
    }
    missing = [key for key in REQUIRED_FIELDS if values[key] in (None, "")]
    if zero_shot is False and not data:
        missing.append("training.training_data")
    if missing:
        options = " ".join(f"--meta {key}=..." for key in missing)
        raise BeirctlError(
            f"{label}: submission metadata missing {', '.join(missing)} (a {rtype} retriever; give {options})"
        )
    hardware: dict[str, Any] = {k: v for k, v in entry.provenance.machine.items() if k != "python"}
    hardware.update({k.split(".", 1)[1]: v for k, v in given.items() if k.startswith("hardware.")})
    encoding: dict[str, Any] | None = None
    if not lexical:
        encoding = {k: params[k] for k in ENCODING_KEYS if k in params}
        encoding.update({k.split(".", 1)[1]: v for k, v in given.items() if k.startswith("encoding.")})
        encoding = encoding or None
    bm25 = {k: params[k] for k in BM25_KEYS if k in params} if lexical else None
    remove = entry.settings.remove_query_id_hits
    averaging = (entry.settings.conventions or {}).get("averaging", "judged")
    own = rtype in LEXICAL_TYPES | ENCODER_TYPES  # code: beirctl itself
    return {
        "model": {"name": name, "revision": revision, "link": given.get("model.link")},
        "training": {"zero_shot": zero_shot, "training_data": data, "saw_beir_test": saw},
        "code": {
            "repository": given.get("code.repository") or ("beirctl" if own else None),
            "commit": given.get("code.commit"),
            "version": version if own and "code.repository" not in given else None,
        },
        "hardware": hardware,
        "encoding": encoding,
        "bm25": bm25,
        "evaluation": {
            "tool": EVALUATION_TOOL,
            "version": entry.provenance.packages.get("ir-measures") or entry.provenance.packages.get("ir_measures"),
            "flags": (["-c"] if averaging == "judged" else []) + (["--remove-query-id-hits"] if remove else []),
            "metrics": metrics,
            "top_k": TOP_K,
            "remove_query_id_hits": remove,
            "conventions": entry.conventions,
        },
        "reference": given.get("reference"),
    }


def _check_target(path: Path, force: bool, is_ours: Any) -> bool:
    """Whether ``path`` exists (and may be replaced); raise when it must not be touched."""
    if not os.path.lexists(path):
        return False
    if not force:
        raise BeirctlError(
            f"{path}: already exists; pass --force to replace a previous bundle, or choose another --out"
        )
    if not is_ours(path):
        raise BeirctlError(
            f"{path}: exists and is not a beirctl bundle (only metadata.json, results.json and runs/); "
            "not replaced even with --force, choose another --out"
        )
    return True


def build(
    entries: list[PairResult],
    results_dir: Path,
    out_dir: Path,
    *,
    label: str | None = None,
    model_name: str | None = None,
    link: str | None = None,
    meta: dict[str, str] | None = None,
    force: bool = False,
) -> Path:
    """Write ``out_dir/<label>/`` and ``out_dir/<label>.zip`` from one retriever's results.

    Neither may exist unless ``force``, and even then only a previous bundle is replaced.
    ``metadata.json`` is :func:`describe`'s (``meta``: ``--meta key=value`` options); a missing
    required field is an error naming it, before anything is written.
    """
    labels = sorted({m.retriever.label for m in entries})
    if label is None:
        if len(labels) != 1:
            raise BeirctlError(f"results hold several retrievers ({', '.join(labels)}); pick one with --retriever")
        label = labels[0]
    check_label(label)
    mine = [m for m in entries if m.retriever.label == label]
    if not mine:
        raise BeirctlError(f"no results for retriever {label!r} (have: {', '.join(labels)})")
    metrics = list(mine[0].aggregate)
    per_metric = [retriever_scores(mine, label, metric) for metric in metrics]  # raises on an incomplete CQADupStack
    scores = {ds: {s.metric: s.datasets[ds] for s in per_metric if ds in s.datasets} for ds in per_metric[0].datasets}
    missing = [s.metric for s in per_metric if s.average is None]
    if missing:
        raise BeirctlError(f"{label}: not every dataset has {', '.join(missing)}; run them with the same metrics")
    first = mine[0]
    names = sorted(m.dataset.name for m in mine)
    given = dict(meta or {})
    if model_name is not None:
        given["model.name"] = model_name
    if link is not None:
        given["model.link"] = link
    described = describe(first, given, metrics)  # raises naming every missing required field
    metadata = {
        "schema": METADATA_SCHEMA,
        **described,
        "retriever": first.retriever.model_dump(),
        "datasets": names,
        "complete": set(required_datasets()) <= set(names),
        "top_k": TOP_K,
        "packages": first.provenance.packages,
        "machine": first.provenance.machine,
        "config_sha256": first.config.sha256,
        "checksums": {m.dataset.name: m.dataset.checksums for m in mine},
        "created": provenance.now(),
    }
    results = {
        "schema": RESULTS_SCHEMA,
        "metrics": metrics,
        "datasets": scores,
        "average": {s.metric: s.average for s in per_metric},
        "queries": {m.dataset.name: sorted(m.per_query[metrics[0]]) for m in mine},
    }
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise BeirctlError(f"{out_dir}: not a folder; choose another --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeirctlError(
            f"{out_dir}: cannot create the output folder ({exc.strerror}); choose another --out"
        ) from None
    final = out_dir / label
    zip_path = out_dir / f"{label}.zip"
    replace_dir = _check_target(final, force, _is_bundle_dir)  # (a link is never one of ours)
    _check_target(zip_path, force, _is_bundle_zip)
    for path in (final, zip_path):
        if not _inside(path, out_dir) or path.resolve().parent != out_dir.resolve():
            raise BeirctlError(f"{path}: outside the output folder {out_dir}; choose another label")

    staging = Path(tempfile.mkdtemp(prefix=f".{label}.", dir=out_dir))
    try:
        runs = staging / RUNS_DIR
        for m in mine:
            dest = runs / _run_name(m.dataset.name)
            if not _inside(dest, runs):
                raise BeirctlError(f"{dest}: dataset name {m.dataset.name!r} would write outside the bundle")
            run = read_run(pair_dir(results_dir, m.dataset.name, label) / RUN_FILE)
            write_run(dest, {q: h[:TOP_K] for q, h in run.items()}, tag=label)
        write_json(staging / METADATA_FILE, metadata)
        write_json(staging / RESULTS_FILE, results)
        _swap_in(staging, final, replace_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with atomic_path(zip_path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(final.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(final).as_posix())
        # Checked again just before the rename: something may have appeared since.
        _check_target(zip_path, force, _is_bundle_zip)
    return zip_path


def _swap_in(staging: Path, final: Path, replace: bool) -> None:
    """Rename ``staging`` to ``final``; a previous bundle there is moved aside, then removed."""
    if not replace:
        try:
            staging.rename(final)  # fails on a non-empty folder or a file that appeared meanwhile
        except OSError as exc:
            raise BeirctlError(
                f"{final}: cannot create the bundle folder ({exc.strerror}); choose another --out"
            ) from None
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
    try:
        os.replace(final, trash / "bundle")
        try:
            staging.rename(final)
        except OSError as exc:
            os.replace(trash / "bundle", final)  # put the previous bundle back
            raise BeirctlError(f"{final}: cannot replace the bundle folder ({exc.strerror})") from None
    finally:
        shutil.rmtree(trash, ignore_errors=True)


# --- validate ----------------------------------------------------------------------------------


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rescored: dict[str, dict[str, float]] = field(default_factory=dict)  # dataset -> metric -> score
    # dataset -> metric -> query id -> score, re-scored (every judged query: trec_eval -c)
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)  # metadata.json as read (untrusted)
    metrics: list[str] = field(default_factory=list)  # results.json's metrics
    splits: dict[str, str] = field(default_factory=dict)  # dataset -> the split re-scored against

    @property
    def ok(self) -> bool:
        return not self.problems


def _queries_bound(ds: str, claimed: dict[str, Any]) -> int:
    info = catalog.DATASETS.get(ds)
    listed = claimed.get(ds)
    n = max(info.queries if info else 0, len(listed) if isinstance(listed, list) else 0)
    return n or DEFAULT_QUERIES


def run_line_bound(ds: str, claimed_queries: dict[str, Any]) -> int:
    """The most lines ``runs/<ds>.trec.gz`` may hold: TOP_K per query."""
    return _queries_bound(ds, claimed_queries) * TOP_K


def run_bound(ds: str, claimed_queries: dict[str, Any]) -> int:
    """The most bytes ``runs/<ds>.trec.gz`` (gzipped, and its text) may take in a bundle."""
    return min(run_line_bound(ds, claimed_queries) * BYTES_PER_LINE + RUN_SLACK, MAX_BUNDLE_BYTES)


def _load_json(data: bytes, name: str, report: Validation) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        report.problems.append(f"{name}: invalid JSON ({exc})")
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _declared(metadata: Any) -> list[str]:
    if not isinstance(metadata, dict) or not isinstance(metadata.get("datasets"), list):
        return []
    return [d for d in metadata["datasets"] if isinstance(d, str)]


def _peek_zip_json(zf: zipfile.ZipFile, name: str) -> Any:
    """A JSON member read (at most JSON_MAX_BYTES) only to size the bounds; problems come later."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > JSON_MAX_BYTES or info.compress_type not in SAFE_COMPRESSION:
        return None  # reported by the size checks
    try:
        with zf.open(info) as fh:
            data = fh.read(JSON_MAX_BYTES + 1)
        return json.loads(data) if len(data) <= JSON_MAX_BYTES else None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError):
        return None


def _extract_zip(path: Path, report: Validation) -> Path | None:
    """Extract the declared members of a bundle zip into a private temporary folder (0700).

    The bounds come from the runs the bundle declares (:func:`run_bound`): nothing is extracted
    (``None``) when a member is unsafe or over its bound; undeclared members are reported and left
    in the zip; the bytes written are counted, whatever the headers say. The caller removes the
    folder.
    """
    with zipfile.ZipFile(path) as zf:
        try:
            check_members(zf, path)
        except DownloadError as exc:
            report.problems.append(str(exc))
            return None
        metadata = _peek_zip_json(zf, METADATA_FILE)
        results = _peek_zip_json(zf, RESULTS_FILE)
        claimed = results.get("queries") if isinstance(results, dict) else None
        bounds = {METADATA_FILE: JSON_MAX_BYTES, RESULTS_FILE: JSON_MAX_BYTES}
        for ds in _declared(metadata):
            bounds[f"{RUNS_DIR}/{_run_name(ds)}"] = run_bound(ds, _dict(claimed))
        wanted = []
        for info in zf.infolist():
            if info.filename == f"{RUNS_DIR}/" and info.is_dir():
                continue
            if info.filename not in bounds:
                report.problems.append(f"undeclared file in the bundle: {info.filename} (not extracted)")
                continue
            wanted.append(info)
        try:
            for info in wanted:
                check_sizes([info], path, bounds[info.filename], MAX_BUNDLE_RATIO)
            check_sizes(wanted, path, MAX_BUNDLE_BYTES, MAX_BUNDLE_RATIO)
        except DownloadError as exc:
            report.problems.append(str(exc))
            return None
        tmp = Path(tempfile.mkdtemp(prefix="beirctl-bundle-"))  # mode 0700: private to this user
        left = MAX_BUNDLE_BYTES
        try:
            for info in wanted:
                dest = tmp.joinpath(*PurePosixPath(info.filename).parts)
                if not _inside(dest, tmp):
                    raise DownloadError(f"{path}: unsafe member {info.filename!r} (outside the folder)")
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(info) as src:
                        # The header's size is what was checked above; count what is really written.
                        left -= copy_member(src, dest, min(bounds[info.filename], left), path, info.filename)
                except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                    report.problems.append(f"{path}: member {info.filename!r} is corrupt ({exc}); not used")
                    dest.unlink(missing_ok=True)
        except DownloadError as exc:
            report.problems.append(str(exc))
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return tmp


def _folder_listing(root: Path, declared: list[str], report: Validation) -> None:
    """Report every path of a bundle folder besides metadata.json, results.json, runs/<declared>."""
    expected = {METADATA_FILE, RESULTS_FILE} | {f"{RUNS_DIR}/{_run_name(ds)}" for ds in declared}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in sorted(dirnames):
            rel = (here / name).relative_to(root).as_posix()
            if rel != RUNS_DIR or (here / name).is_symlink():
                report.problems.append(f"undeclared file in the bundle: {rel}/")
        dirnames[:] = [d for d in dirnames if (here / d).relative_to(root).as_posix() == RUNS_DIR]
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                report.problems.append(f"{rel}: a symbolic link (a bundle holds plain files only)")
            elif rel not in expected:
                report.problems.append(f"undeclared file in the bundle: {rel}")


def _read_folder_json(root: Path, name: str, report: Validation) -> Any:
    path = root / name
    if not path.is_file() or path.is_symlink():
        return None
    if path.stat().st_size > JSON_MAX_BYTES:
        report.problems.append(f"{name}: {path.stat().st_size} bytes, over the {JSON_MAX_BYTES}-byte bound")
        return None
    return _load_json(path.read_bytes(), name, report)


@dataclass
class _RunFile:
    run: Run
    lines: int
    bad_rank: dict[str, str]  # query -> its first line whose rank does not follow the previous one
    bad_score: dict[str, str]  # query -> its first rank that scores above the rank before it


def read_bundle_run(path: Path, max_bytes: int, max_lines: int | None = None) -> _RunFile:
    """Read a gzipped run of a bundle: at most ``max_bytes`` of text and ``max_lines`` lines.

    Rank rule (how :func:`beirctl.evaluation.write_run` writes runs): in file order, the ranks
    of each query are 1, 2, 3, ... and scores never increase from one rank to the next. Equal
    scores may come in either order: beirctl's retrievers break ties by corpus order or doc id,
    and trec_eval re-sorts ties by doc id anyway, so the order of a tie changes no score.
    """
    run: Run = {}
    seen: dict[str, set[str]] = {}
    last: dict[str, tuple[int, float]] = {}
    bad_rank: dict[str, str] = {}
    bad_score: dict[str, str] = {}
    total = lineno = 0
    pending = b""
    isfinite = math.isfinite
    try:
        with gzip.open(path, "rb") as fh:
            while True:
                # Read in blocks (bounded by the byte count), split into lines here.
                block = fh.read(READ_BLOCK)
                total += len(block)
                if total > max_bytes:
                    raise DataError(path, f"more than {max_bytes} bytes of text, over the bound for this dataset")
                data = pending + block
                cut = len(data) if not block else data.rfind(b"\n") + 1
                pending = data[cut:]
                if len(pending) > MAX_LINE_BYTES:
                    raise DataError(
                        path, f"line longer than {MAX_LINE_BYTES} bytes", lineno + data[:cut].count(b"\n") + 1
                    )
                if not cut:
                    if not block:
                        break
                    continue
                raws = data[:cut].split(b"\n")
                if raws[-1] == b"":
                    raws.pop()
                if max_lines is not None and lineno + len(raws) > max_lines:
                    raise DataError(path, f"more than {max_lines} lines, over the bound for this dataset")
                if max(map(len, raws), default=0) > MAX_LINE_BYTES:
                    first = next(i for i, r in enumerate(raws) if len(r) > MAX_LINE_BYTES)
                    raise DataError(path, f"line longer than {MAX_LINE_BYTES} bytes", lineno + first + 1)
                try:
                    lines = data[:cut].decode("utf-8").split("\n")
                except UnicodeDecodeError as exc:
                    at = lineno + data[: exc.start].count(b"\n") + 1
                    raise DataError(path, f"invalid UTF-8 ({exc.reason})", at) from None
                for line in lines[: len(raws)]:
                    lineno += 1
                    fields = line.split()
                    if not fields:
                        continue
                    if len(fields) != 6:
                        raise DataError(
                            path, f"expected 6 columns (qid Q0 docid rank score tag), got {len(fields)}", lineno
                        )
                    qid, _, doc_id, rank_text, score_text, _ = fields
                    try:
                        rank = int(rank_text)
                        score = float(score_text)
                    except ValueError:
                        raise DataError(path, f"bad rank or score ({rank_text!r}, {score_text!r})", lineno) from None
                    if not isfinite(score):
                        raise DataError(path, f"score is not finite: {score_text!r}", lineno)
                    docs = seen.get(qid)
                    if docs is None:
                        docs = seen[qid] = set()
                        hits: list[tuple[str, float]] = []
                        run[qid] = hits
                        prev_rank, prev_score = 0, math.inf
                    else:
                        if doc_id in docs:
                            raise DataError(path, f"document {doc_id!r} appears twice for query {qid!r}", lineno)
                        hits = run[qid]
                        prev_rank, prev_score = last[qid]
                    docs.add(doc_id)
                    if rank != prev_rank + 1:
                        bad_rank.setdefault(qid, f"query {qid} line {lineno}: rank {rank} after rank {prev_rank}")
                    elif score > prev_score:
                        bad_score.setdefault(
                            qid,
                            f"query {qid} rank {rank}: score {score_text} above rank {prev_rank}'s {prev_score:.6f}",
                        )
                    last[qid] = (rank, score)
                    hits.append((doc_id, score))
                if not block:
                    break
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(path, f"cannot read file ({exc})") from None
    return _RunFile(run, lineno, bad_rank, bad_score)


def _differs(a: Any, b: float) -> bool:
    return not isinstance(a, (int, float)) or isinstance(a, bool) or abs(float(a) - b) > SCORE_TOLERANCE


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def _examples(items: Any, n: int = 5) -> str:
    items = sorted(items)
    more = f", ... ({len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _split_of(ds: str, checksums: Any) -> str:
    if isinstance(checksums, dict):
        for key in checksums:
            match = _SPLIT_KEY.fullmatch(str(key))
            if match:
                return match.group(1)
    info = catalog.DATASETS.get(ds)
    return info.split if info else "test"


def validate(
    path: str | Path,
    data_dir: str | Path | None = None,
    *,
    rescore: bool = True,
    extra_metrics: Sequence[str] = (),
) -> Validation:
    """Check a bundle; every problem is named (nothing stops at the first).

    With ``rescore`` (the default) every run is scored again against the qrels in ``data_dir``
    (default: the dataset cache), its doc ids checked against the corpus and its checksums
    against the local files; a dataset without a local copy is a problem (scores not checked).
    ``extra_metrics`` are computed too (in ``rescored`` and ``per_query``) but not claimed: the
    leaderboard site scores every bundle on its own metrics, whatever results.json lists.
    """
    path = Path(path)
    report = Validation()
    if path.is_dir():
        _validate_root(path, report, data_dir, rescore, extra_metrics, listing=True)
    elif path.is_file() and zipfile.is_zipfile(path):
        try:
            root = _extract_zip(path, report)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            report.problems.append(f"{path}: not a valid zip ({exc})")
            return report
        except OSError as exc:
            raise BeirctlError(f"{exc.filename or path}: cannot extract the bundle ({exc.strerror or exc})") from None
        if root is not None:
            try:
                _validate_root(root, report, data_dir, rescore, extra_metrics, listing=False)
            finally:
                shutil.rmtree(root, ignore_errors=True)
    else:
        raise BeirctlError(f"{path}: not a bundle folder or zip")
    return report


def _validate_root(
    root: Path,
    report: Validation,
    data_dir: str | Path | None,
    rescore: bool,
    extra_metrics: Sequence[str],
    *,
    listing: bool,
) -> None:
    import jsonschema

    docs: dict[str, Any] = {}
    for name, part in ((METADATA_FILE, "metadata"), (RESULTS_FILE, "results")):
        if not (root / name).is_file():
            report.problems.append(f"{name}: missing")
            continue
        doc = _read_folder_json(root, name, report)
        if doc is None:
            continue
        docs[part] = doc
        validator = jsonschema.Draft202012Validator({**schema(), "$ref": f"#/$defs/{part}"})
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in err.path) or "(top level)"
            report.problems.append(f"{name}: schema violation at {where}: {err.message}")
    metadata = docs.get("metadata")
    report.metadata = _dict(metadata)
    declared = _declared(metadata)
    if listing:
        _folder_listing(root, declared, report)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("datasets"), list):
        return
    results = _dict(docs.get("results"))
    claimed_queries = _dict(results.get("queries"))
    if metadata.get("complete", True):
        for ds in required_datasets():
            if ds not in declared:
                report.problems.append(f"missing dataset: {ds} (a complete submission has every public BEIR dataset)")
    forums = [d for d in declared if d.startswith(f"{catalog.CQADUPSTACK}/")]
    if forums and len(set(forums)) != len(catalog.CQADUPSTACK_FORUMS):
        missing = sorted(set(catalog.expand(catalog.CQADUPSTACK)) - set(forums))
        report.problems.append(
            f"CQADupStack incomplete: {len(set(forums))} of 12 forums (missing {', '.join(missing)})"
        )
    root_data = resolve_data_dir(data_dir)
    checksums = _dict(metadata.get("checksums"))
    metrics = [m for m in results.get("metrics", []) if isinstance(m, str)] if results else []
    report.metrics = metrics
    rescored: dict[str, dict[str, float]] = {}
    unchecked: list[str] = []
    for ds in declared:
        if not _DATASET_NAME.fullmatch(ds) or ".." in ds:
            report.problems.append(f"metadata.json datasets: {ds!r} is not a dataset name")
            continue
        run_path = root / RUNS_DIR / _run_name(ds)
        rel = f"{RUNS_DIR}/{run_path.name}"
        if not run_path.is_file() or run_path.is_symlink():
            report.problems.append(f"missing dataset: {rel} for {ds}")
            continue
        bound = run_bound(ds, claimed_queries)
        if run_path.stat().st_size > bound:
            report.problems.append(f"{rel}: {run_path.stat().st_size} bytes, over the {bound}-byte bound for {ds}")
            continue
        try:
            parsed = read_bundle_run(run_path, bound, run_line_bound(ds, claimed_queries))
        except DataError as exc:
            report.problems.append(str(exc).replace(str(root) + os.sep, ""))
            continue
        run = parsed.run
        if not run:
            report.problems.append(f"{rel}: empty run (no hits)")
            continue
        if parsed.bad_rank:
            report.problems.append(
                f"{rel}: ranks are not 1, 2, 3, ... in file order for {len(parsed.bad_rank)} quer(ies)"
                f" (first: {next(iter(parsed.bad_rank.values()))})"
            )
        if parsed.bad_score:
            report.problems.append(
                f"{rel}: ranks contradict scores (a later rank scores higher) for {len(parsed.bad_score)} quer(ies)"
                f" (first: {next(iter(parsed.bad_score.values()))})"
            )
        over = [q for q, hits in run.items() if len(hits) > TOP_K]
        if over:
            report.problems.append(f"{rel}: {len(over)} queries with more than {TOP_K} hits")
        short = [q for q, hits in run.items() if len(hits) < TOP_K]
        if short:
            report.notes.append(f"{rel}: {len(short)} queries with fewer than {TOP_K} hits")

        folder = root_data / ds
        split = _split_of(ds, checksums.get(ds))
        qpath = qrels_path(folder, split)
        listed = claimed_queries.get(ds)
        listed_set = {q for q in listed if isinstance(q, str)} if isinstance(listed, list) else None
        local: Dataset | None = None
        judged: set[str] | None = None
        source = ""
        if qpath.is_file():
            try:
                if rescore:
                    local = load_folder(folder, split, name=ds)
                    judged = set(local.qrels)
                else:
                    judged = set(load_qrels(qpath)[0])
                source = f"qrels ({qpath})"
            except DataError as exc:
                report.problems.append(f"{ds}: the local copy cannot be read, so it was not checked: {exc}")
        elif listed_set is not None:
            judged, source = listed_set, "results.json query list"
        if judged is not None:
            unknown = set(run) - judged
            if unknown:
                report.problems.append(
                    f"{rel}: {len(unknown)} unknown query id(s) not in the {source}: " + _examples(unknown)
                )
            answered = len(judged & set(run))
            if answered < len(judged):
                # A TREC run cannot hold a query without hits (beirctl's own runs leave out queries
                # whose every term is a stop word): they score 0 under trec_eval -c, which the
                # re-scoring does, so leaving queries out never raises a score; a claim that
                # assumes otherwise is caught by the score comparison.
                report.notes.append(
                    f"{rel}: answers {answered} of the {len(judged)} judged queries in the {source}"
                    f" ({len(judged) - answered} without hits score 0: {_examples(judged - set(run))})"
                )
            if listed_set is not None and source.startswith("qrels") and listed_set != judged:
                report.problems.append(
                    f"results.json queries/{ds}: lists {len(listed_set)} query ids, the {source} judge"
                    f" {len(judged)} ({len(listed_set ^ judged)} differ: {_examples(listed_set ^ judged)})"
                )
        if not rescore:
            continue
        if local is None:
            if not qpath.is_file():  # (an unreadable copy is reported above)
                how = f"download it with `beirctl datasets download {ds}`, " if ds in catalog.DATASETS else ""
                report.problems.append(
                    f"{ds}: scores were not checked: no local copy with qrels at {qpath} "
                    f"({how}pass --data-dir, or --no-rescore to skip re-scoring)"
                )
            unchecked.append(ds)
            continue
        claimed_sums = checksums.get(ds)
        if not isinstance(claimed_sums, dict):
            report.problems.append(f"metadata.json checksums/{ds}: missing")
        else:
            for key in sorted(set(claimed_sums) | set(local.checksums)):
                want, have = claimed_sums.get(key), local.checksums.get(key)
                if want != have:
                    report.problems.append(
                        f"metadata.json checksums/{ds}/{key}: {want or 'missing'} does not match the local copy"
                        f" ({have or 'missing'}, {folder})"
                    )
        corpus = local.corpus
        bad_docs = {doc for hits in run.values() for doc, _ in hits if doc not in corpus}
        if bad_docs:
            n_hits = sum(1 for hits in run.values() for doc, _ in hits if doc in bad_docs)
            report.problems.append(
                f"{rel}: {n_hits} hit(s) with document ids not in the corpus ({folder}): {_examples(bad_docs)}"
            )
        if not metrics and not extra_metrics:
            unchecked.append(ds)
            continue
        try:
            scored = evaluate(run, local.qrels, [*metrics, *(m for m in extra_metrics if m not in metrics)])
            rescored[ds] = scored.aggregate
            report.per_query[ds] = scored.per_query
            report.splits[ds] = split
        except BeirctlError as exc:
            report.problems.append(f"results.json metrics: {exc}")
            unchecked.append(ds)
    report.rescored = rescored
    if rescore:
        _compare_scores(results, declared, rescored, unchecked, report)
    else:
        report.notes.append(
            "scores, document ids and checksums were not checked against the qrels and corpus (--no-rescore)"
        )


def _compare_scores(
    results: dict[str, Any],
    declared: list[str],
    rescored: dict[str, dict[str, float]],
    unchecked: list[str],
    report: Validation,
) -> None:
    """Compare results.json's claims with the re-scored runs (CQADupStack: the mean of its forums)."""
    claimed = _dict(results.get("datasets"))
    metrics = [m for m in results.get("metrics", []) if isinstance(m, str)]
    grouped = catalog.CQADUPSTACK in claimed
    expected: dict[str, dict[str, float] | None] = {}
    forums = {}
    for ds in declared:
        if grouped and ds.startswith(f"{catalog.CQADUPSTACK}/"):
            if ds in rescored:
                forums[ds] = rescored[ds]
            continue
        expected[ds] = rescored.get(ds)
    if grouped:
        try:  # the leaderboard's definition; an incomplete CQADupStack is reported above
            expected[catalog.CQADUPSTACK] = cqadupstack_mean({f: {m: s[m] for m in metrics} for f, s in forums.items()})
        except (ResultsError, KeyError):
            expected[catalog.CQADUPSTACK] = None
    for key in sorted(set(claimed) - set(expected)):
        report.problems.append(f"results.json datasets/{key}: a score for a dataset metadata.json does not declare")
    for ds, got in sorted(expected.items()):
        scores = claimed.get(ds)
        if not isinstance(scores, dict):
            report.problems.append(f"results.json datasets/{ds}: no scores for a declared dataset")
            continue
        for metric in metrics:
            if metric not in scores:
                report.problems.append(f"results.json datasets/{ds}/{metric}: missing")
            elif got is not None and _differs(scores[metric], got[metric]):
                report.problems.append(
                    f"results.json datasets/{ds}/{metric}: claims {_fmt(scores[metric])}, "
                    f"the run scores {got[metric]:.4f} (trec_eval -c against the local qrels)"
                )
    average = _dict(results.get("average"))
    values = [claimed[k] for k in sorted(claimed) if isinstance(claimed.get(k), dict)]
    for metric in metrics:
        per = [v.get(metric) for v in values]
        if not per or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in per):
            continue
        mean = fmean(float(x) for x in per if isinstance(x, (int, float)))
        if metric in average and _differs(average[metric], mean):
            report.problems.append(
                f"results.json average/{metric}: claims {_fmt(average[metric])}, the mean of its datasets is {mean:.4f}"
            )
    if unchecked:
        report.notes.append(f"scores not checked for {len(unchecked)} dataset(s): {', '.join(unchecked)}")
