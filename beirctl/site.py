"""A static leaderboard site built from submission bundles: ``beirctl leaderboard build``.

Every bundle (folder or zip) is checked by :func:`beirctl.submission.validate`, which re-scores
its runs against the local qrels; the site shows only those recomputed scores, never the ones a
bundle claims. A bundle with any problem (claims that disagree with its runs, a missing or empty
run, a duplicate document, an unsafe zip, ...) is listed as rejected with its reasons; it never
stops the others. The site (``SITE/``)::

    index.html                 the ranking: a row per submission and per shipped reference
    leaderboard.json           the same, for machines (beirctl/schemas/leaderboard-site.schema.json)
    submissions/<id>.html      a page per accepted submission
    .beirctl-cache/<sha256>.json   re-scoring results, keyed by the bundle's content hash (and
                                   valid only for the same data folder and validator)

Scores are the benchmark's one definition (:func:`beirctl.results.retriever_scores`: CQADupStack
once, the mean of its 12 forums, and the mean over datasets); the fairer view beside the average
is each submission's pooled random-effects effect against the baseline (:func:`beirctl.meta.meta_analysis`
on the re-scored per-query nDCG@10, standardized mean change, DerSimonian–Laird), with its 95% CI.
A page shows the metadata, the per-dataset differences to the baseline with paired tests
(:func:`beirctl.compare.compare`), a radar chart and the forest plot (:mod:`beirctl.report`), and
whether the scores match a published reference (:func:`beirctl.verify.verify`).

The pages work offline: no script, font or image is fetched; a dozen lines of inline JavaScript
sort the ranking table; a viewport tag and a scrolling table wrapper make it readable on a phone.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from beirctl import provenance, submission
from beirctl.atomic import atomic_open, write_json
from beirctl.compare import Comparison, compare
from beirctl.datasets import catalog
from beirctl.datasets.paths import data_dir as resolve_data_dir
from beirctl.errors import BeirctlError
from beirctl.meta import MetaAnalysis, MetaAnalysisError, meta_analysis
from beirctl.results import PairResult, ResultsError, as_result, reference_scores, retriever_scores
from beirctl.verify import load_reference, reference_names, verify
from beirctl.version import __version__

SITE_SCHEMA = "beirctl.leaderboard-site/1"
SITE_SCHEMA_FILE = "leaderboard-site.schema.json"
CACHE_SCHEMA = "beirctl.leaderboard-cache/1"
CACHE_DIR = ".beirctl-cache"
PAGES_DIR = "submissions"
METRICS = ("nDCG@10", "R@100")
RANK_METRIC = "nDCG@10"
DEFAULT_BASELINES = ("bm25-flat", "bm25")  # used when --baseline is not given, the first present
VERIFY_TOLERANCE = 1e-4
ALPHA = 0.05
_ID = re.compile(r"[^A-Za-z0-9._-]+")


def site_schema() -> dict[str, Any]:
    """The JSON schema of ``leaderboard.json`` (``beirctl/schemas/leaderboard-site.schema.json``)."""
    doc: dict[str, Any] = json.loads((resources.files("beirctl.schemas") / SITE_SCHEMA_FILE).read_text("utf-8"))
    return doc


# --- one bundle --------------------------------------------------------------------------------


@dataclass
class Submission:
    """One bundle as the site sees it: its content hash, whether it was accepted, and (when it
    was) the re-scored scores; ``cached`` when the re-scoring came from the site's cache."""

    source: str
    sha256: str
    problems: list[str]
    notes: list[str]
    metadata: dict[str, Any]
    rescored: dict[str, dict[str, float]]  # dataset (forums as themselves) -> metric -> score
    per_query: dict[str, dict[str, dict[str, float]]]  # dataset -> metric -> qid -> score
    splits: dict[str, str]
    cached: bool = False
    id: str = ""
    entries: list[PairResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        retriever = self.metadata.get("retriever")
        label = retriever.get("label") if isinstance(retriever, dict) else None
        return label if isinstance(label, str) and label else Path(self.source).name.removesuffix(".zip")

    @property
    def model(self) -> dict[str, Any]:
        model = self.metadata.get("model")
        return model if isinstance(model, dict) else {}

    def reason(self, most: int = 3) -> str:
        """The problems on one line: the first ``most``, then how many more."""
        shown = "; ".join(" ".join(p.splitlines()) for p in self.problems[:most])
        more = len(self.problems) - most
        return shown + (f"; ... ({more} more)" if more > 0 else "")


def content_hash(path: Path) -> str:
    """sha256 of a zip's bytes, or of a folder's listing and files (relative path, then content;
    a link is hashed as its target's name, never followed)."""
    digest = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    if not path.is_dir():
        raise BeirctlError(f"{path}: not a bundle folder or zip")
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            item = Path(dirpath) / name
            rel = item.relative_to(path).as_posix()
            digest.update(rel.encode("utf-8", "surrogateescape") + b"\0")
            if item.is_symlink():
                digest.update(b"link:" + os.readlink(item).encode("utf-8", "surrogateescape"))
            elif item.is_file():
                with open(item, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
            digest.update(b"\0")
    return digest.hexdigest()


def validator_id() -> str:
    """Which checker made a cached result: beirctl's version and a hash of the validating code, so
    that a changed validator re-scores every bundle."""
    digest = hashlib.sha256(__version__.encode())
    for module in (submission.__file__, __file__):
        if module:
            digest.update(Path(module).read_bytes())
    return digest.hexdigest()[:16]


def _looks_like_results(path: Path) -> bool:
    return path.is_dir() and not (path / submission.METADATA_FILE).exists() and any(path.glob("*/*/metrics.json"))


def score(path: Path, data_dir: Path, cache_dir: Path | None) -> Submission:
    """Validate and re-score one bundle, or take the result from ``cache_dir`` when the same bundle
    (content hash) was re-scored there against the same data folder. Never raises for a bad
    bundle: every failure is a problem of the returned submission."""
    source = str(path)
    try:
        sha = content_hash(path)
    except (BeirctlError, OSError) as exc:
        return Submission(source, "", [f"cannot read the bundle ({exc})"], [], {}, {}, {}, {})
    cache_file = cache_dir / f"{sha}.json" if cache_dir is not None else None
    if cache_file is not None and cache_file.is_file():
        try:
            doc = json.loads(cache_file.read_text("utf-8"))
        except (OSError, ValueError):
            doc = None
        if (
            isinstance(doc, dict)
            and doc.get("schema") == CACHE_SCHEMA
            and doc.get("validator") == validator_id()
            and doc.get("data_dir") == str(data_dir)
        ):
            return Submission(
                source,
                sha,
                list(doc["problems"]),
                list(doc["notes"]),
                dict(doc["metadata"]),
                dict(doc["rescored"]),
                dict(doc["per_query"]),
                dict(doc["splits"]),
                cached=True,
            )
    if _looks_like_results(path):
        problems = [f"a results folder, not a bundle; make one with `beirctl leaderboard bundle {path} --out DIR`"]
        return Submission(source, sha, problems, [], {}, {}, {}, {})
    try:
        report = submission.validate(path, data_dir, extra_metrics=METRICS)
        sub = Submission(
            source,
            sha,
            list(report.problems),
            list(report.notes),
            report.metadata,
            report.rescored,
            report.per_query,
            report.splits,
        )
    except BeirctlError as exc:
        sub = Submission(source, sha, [" ".join(str(exc).splitlines())], [], {}, {}, {}, {})
    except Exception as exc:  # a bad bundle never stops the others
        sub = Submission(source, sha, [f"could not be checked ({type(exc).__name__}: {exc})"], [], {}, {}, {}, {})
    if sub.ok and RANK_METRIC not in sub.rescored.get(next(iter(sub.rescored), ""), {}):
        sub.problems.append(f"no {RANK_METRIC} could be computed for its runs")
    if cache_file is not None:
        doc = {
            "schema": CACHE_SCHEMA,
            "validator": validator_id(),
            "sha256": sha,
            "data_dir": str(data_dir),
            "source": source,
            "problems": sub.problems,
            "notes": sub.notes,
            "metadata": sub.metadata,
            "rescored": sub.rescored,
            "per_query": sub.per_query,
            "splits": sub.splits,
        }
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            write_json(cache_file, doc)
        except (OSError, TypeError, ValueError):
            pass  # a cache that cannot be written only costs time
    return sub


def _entries(sub: Submission) -> list[PairResult]:
    """The submission's re-scored results as :class:`PairResult` s (label = its site id), so that
    the benchmark's score definition, compare and verify apply to it as to any results folder."""
    retriever = sub.metadata.get("retriever") if isinstance(sub.metadata.get("retriever"), dict) else {}
    assert isinstance(retriever, dict)
    params = retriever.get("params") if isinstance(retriever.get("params"), dict) else {}
    out = []
    for ds, aggregate in sorted(sub.rescored.items()):
        group = catalog.CQADUPSTACK if ds.startswith(f"{catalog.CQADUPSTACK}/") else None
        doc = {
            "retrieval_key": sub.sha256,
            "dataset": {"name": ds, "group": group, "split": sub.splits.get(ds, "test")},
            "retriever": {"type": str(retriever.get("type", "?")), "label": sub.id, "params": params},
            "settings": {"top_k": submission.TOP_K, "metrics": list(aggregate)},
            "aggregate": aggregate,
            "per_query": sub.per_query.get(ds, {}),
        }
        out.append(as_result(doc))
    return out


# --- the whole site ----------------------------------------------------------------------------


@dataclass
class Row:
    """One row of the ranking: a submission or a shipped reference."""

    kind: str  # "submission" | "reference"
    id: str
    name: str
    scores: dict[str, dict[str, float]]  # dataset (CQADupStack once) -> metric -> score
    average: dict[str, float | None]
    complete: bool
    link: str | None = None
    rank: int | None = None
    effect: dict[str, float] | None = None
    effect_note: str | None = None
    verified: list[str] = field(default_factory=list)
    sub: Submission | None = None


@dataclass
class Site:
    out: Path
    datasets: list[str]
    rows: list[Row]
    rejected: list[Submission]
    accepted: list[Submission]
    baseline: str | None
    notes: list[str]
    document: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> dict[str, Any]:
        """The JSON summary for bots (``--summary-json``)."""
        return {
            "schema": "beirctl.leaderboard-summary/1",
            "ok": self.ok,
            "site": str(self.out),
            "accepted": [
                {"source": s.source, "id": s.id, "sha256": s.sha256, "cached": s.cached} for s in self.accepted
            ],
            "rejected": [
                {"source": s.source, "label": s.label, "sha256": s.sha256, "reason": s.reason(), "problems": s.problems}
                for s in self.rejected
            ],
            "rescored": [s.source for s in [*self.accepted, *self.rejected] if not s.cached and s.sha256],
            "cached": [s.source for s in [*self.accepted, *self.rejected] if s.cached],
        }


def _dataset_order(names: set[str]) -> list[str]:
    known = [d for d in catalog.PUBLIC_BENCHMARK if d in names]
    return known + sorted(names - set(known))


def _unique_id(label: str, sha: str, taken: set[str]) -> str:
    base = _ID.sub("_", label).strip("._-")[:60] or "submission"
    ident = base if base not in taken else f"{base}-{sha[:8]}"
    n = 2
    while ident in taken:
        ident, n = f"{base}-{sha[:8]}-{n}", n + 1
    taken.add(ident)
    return ident


def _safe_link(value: Any) -> str | None:
    return value if isinstance(value, str) and re.match(r"https?://[^\s\"'<>]+$", value) else None


def build_site(
    bundles: Sequence[Path],
    out: Path,
    *,
    data_dir: str | Path | None = None,
    baseline: str | None = None,
    references: Sequence[str] | None = None,
    cache_dir: Path | None = None,
) -> Site:
    """Validate and re-score ``bundles`` and write the site to ``out`` (see the module doc).

    ``baseline``: the submission (its retriever label or site id) the effects and differences are
    against; default the first of :data:`DEFAULT_BASELINES` present, else none. ``references``:
    the shipped tables shown as reference rows (default: all; ``[]`` for none). ``cache_dir``:
    where re-scoring results are kept (default ``out/.beirctl-cache``)."""
    refs = list(reference_names() if references is None else references)
    for name in refs:
        load_reference(name)  # an unknown name is an error naming the known ones
    if os.path.lexists(out) and not out.is_dir():
        raise BeirctlError(f"{out}: not a folder; choose another -o")
    root = resolve_data_dir(data_dir).resolve()
    cache = cache_dir if cache_dir is not None else out / CACHE_DIR
    subs = [score(Path(b), root, cache) for b in bundles]
    taken: set[str] = set()
    for sub in subs:
        sub.id = _unique_id(sub.label, sub.sha256, taken)
    accepted = [s for s in subs if s.ok]
    rejected = [s for s in subs if not s.ok]
    notes: list[str] = []
    for sub in accepted:
        sub.entries = _entries(sub)

    # baseline
    base: Submission | None = None
    if baseline is not None:
        named = [s for s in subs if baseline in (s.id, s.label)]
        if not named:
            have = ", ".join(s.label for s in subs) or "none"
            raise BeirctlError(f"--baseline {baseline}: no submission has that label (have: {have})")
        base = next((s for s in named if s.ok), None)
        if base is None:
            notes.append(f"the baseline {baseline} was rejected: no effects or differences against it")
    else:
        base = next((s for name in DEFAULT_BASELINES for s in accepted if name in (s.id, s.label)), None)
        if base is None and accepted:
            notes.append(f"no baseline (none of {', '.join(DEFAULT_BASELINES)}; pass --baseline): no effects")

    rows: list[Row] = []
    names: set[str] = set()
    everything = set(catalog.PUBLIC_BENCHMARK)
    for sub in accepted:
        per_metric = {m: retriever_scores(sub.entries, sub.id, m, partial=True) for m in METRICS}
        scores: dict[str, dict[str, float]] = {}
        for m, s in per_metric.items():
            for ds, v in s.datasets.items():
                scores.setdefault(ds, {})[m] = v
        names |= set(scores)
        row = Row(
            "submission",
            sub.id,
            str(sub.model.get("name") or sub.label),
            scores,
            {m: s.average for m, s in per_metric.items()},
            everything <= set(scores),
            link=_safe_link(sub.model.get("link")),
            sub=sub,
        )
        _effect(row, sub, base)
        row.verified = [r.reference for r in _verifications(sub, refs) if r.ok]
        rows.append(row)
    datasets = _dataset_order(names)
    if datasets:
        for name in refs:
            table = load_reference(name)
            ref_scores: dict[str, dict[str, float]] = {}
            for m in METRICS:
                for ds, v in reference_scores(table, m).items():
                    if ds in names:
                        ref_scores.setdefault(ds, {})[m] = v
            if not ref_scores:
                continue
            avg: dict[str, float | None] = {}
            for m in METRICS:
                vals = [ref_scores[ds][m] for ds in datasets if m in ref_scores.get(ds, {})]
                avg[m] = sum(vals) / len(vals) if vals and len(vals) == len(ref_scores) else None
            rows.append(Row("reference", f"ref:{name}", name, ref_scores, avg, False))

    def key(row: Row) -> tuple[float, int, str]:
        value = row.average.get(RANK_METRIC)
        return (-(value if value is not None else -1.0), row.kind == "reference", row.id)

    rows.sort(key=key)
    rank = 0
    for row in rows:
        if row.kind == "submission":
            rank += 1
            row.rank = rank
    document = _document(datasets, rows, rejected, base.id if base else None, notes)
    site = Site(out, datasets, rows, rejected, accepted, base.id if base else None, notes, document)
    _write(site, refs)
    return site


def _effect(row: Row, sub: Submission, base: Submission | None) -> None:
    if base is None:
        return
    if sub is base:
        row.effect_note = "baseline"
        return
    analysis = _meta(sub, base)
    if isinstance(analysis, str):
        row.effect_note = analysis
        return
    pooled = analysis.systems[sub.id].pooled
    row.effect = {
        "estimate": pooled.estimate,
        "ci_low": pooled.ci_low,
        "ci_high": pooled.ci_high,
        "datasets": float(len(analysis.systems[sub.id].datasets)),
    }


def _meta(sub: Submission, base: Submission) -> MetaAnalysis | str:
    """The meta-analysis of ``sub`` against ``base`` on their shared datasets, or why there is none."""

    def scores(s: Submission) -> dict[str, dict[str, float]]:
        return {ds: pq[RANK_METRIC] for ds, pq in s.per_query.items() if RANK_METRIC in pq}

    try:
        return meta_analysis(
            {sub.id: scores(sub), base.id: scores(base)}, base.id, metric=RANK_METRIC, allow_missing=True
        )
    except MetaAnalysisError as exc:
        return " ".join(str(exc).splitlines())


def _verifications(sub: Submission, refs: Sequence[str]) -> list[Any]:
    claimed = sub.metadata.get("reference")
    names = list(
        dict.fromkeys([*([claimed] if isinstance(claimed, str) and claimed in reference_names() else []), *refs])
    )
    out = []
    for name in names:
        try:
            out.append(verify(sub.entries, name, VERIFY_TOLERANCE, label=sub.id))
        except (BeirctlError, ResultsError):
            continue
    return out


def _document(
    datasets: list[str], rows: list[Row], rejected: list[Submission], baseline: str | None, notes: list[str]
) -> dict[str, Any]:
    return {
        "schema": SITE_SCHEMA,
        "generated": provenance.now(),
        "beirctl": __version__,
        "metrics": list(METRICS),
        "rank_metric": RANK_METRIC,
        "datasets": datasets,
        "baseline": baseline,
        "effect": {"metric": RANK_METRIC, "measure": "smd", "method": "dl", "level": 0.95},
        "rows": [
            {
                "kind": r.kind,
                "rank": r.rank,
                "id": r.id,
                "name": r.name,
                "link": r.link,
                "datasets": r.scores,
                "average": r.average,
                "num_datasets": len(r.scores),
                "complete": r.complete,
                "effect": r.effect,
                "effect_note": r.effect_note,
                "verified": r.verified,
                "page": f"{PAGES_DIR}/{r.id}.html" if r.kind == "submission" else None,
                "sha256": r.sub.sha256 if r.sub else None,
                "source": r.sub.source if r.sub else None,
                "cached": r.sub.cached if r.sub else None,
            }
            for r in rows
        ],
        "rejected": [
            {"source": s.source, "label": s.label, "sha256": s.sha256, "reasons": s.problems} for s in rejected
        ],
        "notes": notes,
    }


# --- HTML --------------------------------------------------------------------------------------

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1rem auto;padding:0 1rem;
color:#222;max-width:1200px;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}
th{background:#f3f3f3;white-space:nowrap}th[data-sort]{cursor:pointer}th[data-sort]:after{content:" \\2195";color:#999}
td.l,th.l{text-align:left}tr.ref td{color:#555;background:#fafafa;font-style:italic}
.mark{font-size:.8rem;border-radius:.3rem;padding:0 .3rem;margin-left:.3rem;font-style:normal}
.complete{background:#e3f4e3;color:#1d6b1d}.reference{background:#eee;color:#555}.ok{color:#1d6b1d}.bad{color:#a33}
ul.reasons{margin:.2rem 0 .8rem 1rem;padding:0}.legend,.note{color:#555;font-size:.9rem}
figure{margin:0}figure svg{max-width:100%;height:auto}.charts{display:flex;flex-wrap:wrap;gap:1rem}
code{background:#f5f5f5;padding:0 .2rem;word-break:break-all}
@media (max-width:600px){body{padding:0 .4rem}th,td{padding:.2rem .3rem;font-size:.8rem}h1{font-size:1.2rem}}
"""

# Sorting: a click on a header with data-sort orders the rows by that column's data-v (numbers).
SORT_JS = """
document.querySelectorAll("table.sortable th[data-sort]").forEach(function (th) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], i = th.cellIndex, up = th.dataset.dir !== "down";
    th.dataset.dir = up ? "down" : "up";
    Array.from(body.rows).sort(function (a, b) {
      var x = parseFloat(a.cells[i].dataset.v), y = parseFloat(b.cells[i].dataset.v);
      x = isNaN(x) ? -Infinity : x; y = isNaN(y) ? -Infinity : y;
      return up ? y - x : x - y;
    }).forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _write_text(path: Path, text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, *, script: bool = False) -> str:
    js = f"<script>{SORT_JS}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n{body}\n{js}</body></html>\n"
    )


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "" if value is None else format(value, fmt)


def _cell(value: float | None, fmt: str = ".4f", extra: str = "") -> str:
    v = "" if value is None else repr(float(value))
    return f'<td data-v="{v}">{_num(value, fmt)}{extra}</td>'


def _index(site: Site) -> str:
    ds = site.datasets
    head = ['<th class="l" data-sort="rank">#</th>', '<th class="l">submission</th>']
    for d in ds:
        head += [f'<th data-sort="n">{_e(d)}<br>nDCG@10</th>', f'<th data-sort="n">{_e(d)}<br>R@100</th>']
    head += [
        '<th data-sort="n">average<br>nDCG@10</th>',
        '<th data-sort="n">average<br>R@100</th>',
        '<th data-sort="n">datasets</th>',
        '<th data-sort="n" title="pooled random-effects SMD of nDCG@10 vs the baseline">'
        f"effect vs {_e(site.baseline or '-')}<br>(95% CI)</th>",
    ]
    body = []
    for r in site.rows:
        name = _e(r.name)
        rank = "" if r.rank is None else str(r.rank)
        if r.kind == "submission":
            name = f'<a href="{PAGES_DIR}/{_e(r.id)}.html">{name}</a>'
            if r.complete:
                name += '<span class="mark complete" title="every public BEIR dataset">complete</span>'
            if r.verified:
                name += f' <span class="mark ok" title="matches {_e(", ".join(r.verified))}">verified</span>'
        else:
            name += '<span class="mark reference">reference</span>'
        cells = [
            f'<td class="l" data-v="{rank}">{rank}</td>',
            f'<td class="l">{name}</td>',
        ]
        for d in ds:
            sc = r.scores.get(d, {})
            cells += [_cell(sc.get("nDCG@10")), _cell(sc.get("R@100"))]
        cells += [_cell(r.average.get("nDCG@10")), _cell(r.average.get("R@100")), _cell(len(r.scores), "d")]
        if r.effect is not None:
            ci = f" [{r.effect['ci_low']:+.3f}, {r.effect['ci_high']:+.3f}]"
            cells.append(_cell(r.effect["estimate"], "+.3f", ci))
        else:
            cells.append(f'<td data-v="" title="{_e(r.effect_note or "")}">{_e(r.effect_note or "")[:40]}</td>')
        kind = ' class="ref"' if r.kind == "reference" else ' class="sub"'
        body.append(f'<tr{kind} data-id="{_e(r.id)}">{"".join(cells)}</tr>')
    parts = [
        "<h1>BEIR leaderboard</h1>",
        '<p class="legend">Scores are recomputed from each submission\'s runs against the local qrels '
        "(trec_eval -c); claimed scores are never shown. CQADupStack counts once (the mean of its 12 forums). "
        "<b>complete</b>: every public BEIR dataset. Reference rows are published figures (not re-scored), "
        "averaged over the datasets shown. The effect is the pooled random-effects standardized mean change in "
        f"nDCG@10 against {_e(site.baseline or 'the baseline')} (DerSimonian–Laird, 95% CI). "
        "Click a column header to sort.</p>",
        f'<h2 id="ranking">Ranking</h2><div class="wrap"><table class="sortable" id="board"><thead><tr>{"".join(head)}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>",
    ]
    for note in site.notes:
        parts.append(f'<p class="note">{_e(note)}</p>')
    parts.append(f'<h2 id="rejected">Rejected submissions ({len(site.rejected)})</h2>')
    if not site.rejected:
        parts.append("<p>None.</p>")
    for s in site.rejected:
        items = "".join(f"<li>{_e(p)}</li>" for p in s.problems)
        parts.append(
            f'<div class="rejected" data-source="{_e(s.source)}"><b>{_e(s.label)}</b> '
            f"<code>{_e(Path(s.source).name)}</code>"
            f'<ul class="reasons">{items}</ul></div>'
        )
    parts.append(
        f'<p class="legend">Built by beirctl {_e(__version__)} on {_e(site.document["generated"])}; '
        'machine-readable: <a href="leaderboard.json">leaderboard.json</a>.</p>'
    )
    return _page("BEIR leaderboard", "\n".join(parts), script=True)


def _kv_table(items: Mapping[str, Any]) -> str:
    rows = []
    for key, value in items.items():
        if isinstance(value, (dict, list)):
            shown = f"<code>{_e(json.dumps(value, sort_keys=True))}</code>" if value else ""
        else:
            shown = _e("" if value is None else value)
        rows.append(f'<tr><th class="l">{_e(key)}</th><td class="l">{shown}</td></tr>')
    return f'<div class="wrap"><table class="meta">{"".join(rows)}</table></div>'


def _submission_page(row: Row, site: Site, refs: Sequence[str]) -> str:
    from beirctl import report

    sub = row.sub
    assert sub is not None
    meta = sub.metadata
    model = sub.model
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    code = meta.get("code") if isinstance(meta.get("code"), dict) else {}
    retriever = meta.get("retriever") if isinstance(meta.get("retriever"), dict) else {}
    assert isinstance(training, dict) and isinstance(code, dict) and isinstance(retriever, dict)
    link = row.link
    parts = [
        f'<p><a href="../index.html">← leaderboard</a></p><h1>{_e(row.name)}</h1>',
        f"<p>Rank {row.rank} of {sum(1 for r in site.rows if r.kind == 'submission')}; "
        f"{len(row.scores)} dataset(s){'; complete' if row.complete else ''}.</p>",
        '<h2 id="metadata">Metadata</h2>',
        _kv_table(
            {
                "model": model.get("name"),
                "revision": model.get("revision"),
                "link": link or model.get("link"),
                "zero-shot": training.get("zero_shot"),
                "training data": ", ".join(str(x) for x in training.get("training_data") or []),
                "saw BEIR test data": training.get("saw_beir_test"),
                "code": " ".join(
                    str(x) for x in (code.get("repository"), code.get("commit") or code.get("version")) if x
                ),
                "retriever": f"{retriever.get('type')} ({retriever.get('label')})",
                "parameters": retriever.get("params"),
                "encoding": meta.get("encoding"),
                "BM25": meta.get("bm25"),
                "evaluation": meta.get("evaluation"),
                "hardware": meta.get("hardware") or meta.get("machine"),
                "packages": meta.get("packages"),
                "checksums": meta.get("checksums"),
                "bundle sha256": sub.sha256,
                "created": meta.get("created"),
            }
        ),
    ]
    if link:
        parts[-1] = parts[-1].replace(_e(link), f'<a href="{_e(link)}" rel="nofollow noopener">{_e(link)}</a>', 1)
    base_id = site.baseline
    base_sub = next((s for s in site.accepted if s.id == base_id), None)
    comps: dict[str, Comparison] = {}
    if base_sub is not None and base_sub is not sub:
        for m in METRICS:
            try:
                comps[m] = compare([*sub.entries, *base_sub.entries], m, base_id)
            except BeirctlError:
                continue
    head = '<th class="l">dataset</th>' + "".join(f"<th>{_e(m)}</th>" for m in METRICS)
    if comps:
        head += "".join(f"<th>Δ {_e(m)}<br>vs {_e(base_id)}</th>" for m in METRICS)
    body = []
    for ds in site.datasets:
        if ds not in row.scores:
            continue
        cells = [f'<td class="l">{_e(ds)}</td>'] + [_cell(row.scores[ds].get(m)) for m in METRICS]
        for m in METRICS if comps else ():
            comp = comps.get(m)
            delta = comp.delta(ds, sub.id) if comp else None
            test = comp.tests.get(ds, {}).get(sub.id) if comp else None
            mark = ""
            if test is not None:
                mark = ("*" if test.t_p_holm < ALPHA else "") + ("†" if test.rand_p_holm < ALPHA else "")
            cells.append(_cell(delta, "+.4f", mark))
        body.append(f"<tr>{''.join(cells)}</tr>")
    avg = ['<td class="l"><b>average</b></td>'] + [_cell(row.average.get(m)) for m in METRICS]
    if comps:
        for m in METRICS:
            comp = comps.get(m)
            deltas = [d for d in (comp.delta(ds, sub.id) for ds in comp.datasets) if d is not None] if comp else []
            avg.append(_cell(sum(deltas) / len(deltas) if deltas else None, "+.4f"))
    body.append(f"<tr>{''.join(avg)}</tr>")
    parts += [
        '<h2 id="datasets">Per dataset</h2>',
        f'<div class="wrap"><table id="per-dataset"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
        "</table></div>",
        '<p class="legend">'
        + (
            f"Δ: difference to the baseline {_e(base_id)} (on the datasets both have); * paired t-test, "
            "† Fisher randomization test, p &lt; 0.05 after Holm–Bonferroni across datasets."
            if comps
            else "No baseline to compare with."
        )
        + "</p>",
    ]
    # charts
    charts: list[str] = []
    try:
        radar = _radar_comparison(row, site)
        if radar is not None:
            charts.append(f"<figure>{report.svg(report.radar_figure(radar), f'radar-{row.id}')}</figure>")
        analysis = _meta(sub, base_sub) if base_sub is not None and base_sub is not sub else None
        if isinstance(analysis, MetaAnalysis):
            fig = report.forest_figure(analysis, sub.id, row.id)
            charts.append(f'<figure data-forest-id="{_e(row.id)}">{report.svg(fig, f"forest-{row.id}")}</figure>')
        elif isinstance(analysis, str):
            charts.append(f'<p class="note">No forest plot: {_e(analysis)}</p>')
    except BeirctlError as exc:  # matplotlib missing
        charts.append(f'<p class="note">No charts: {_e(exc)}</p>')
    parts += ['<h2 id="charts">Charts</h2>', f'<div class="charts">{"".join(charts)}</div>']
    # verification
    parts.append('<h2 id="verification">Verified against a published reference</h2>')
    checks = _verifications(sub, refs)
    claimed = meta.get("reference")
    ok = [v for v in checks if v.ok]
    if ok:
        parts.append(
            '<p class="ok">Verified: the re-scored figures match '
            + ", ".join(f"<b>{_e(v.reference)}</b>" for v in ok)
            + f" (rounded to 4 decimals, tolerance {VERIFY_TOLERANCE:g}).</p>"
        )
    else:
        parts.append('<p class="bad">Not verified: no shipped reference matches every figure.</p>')
    for v in checks:
        if isinstance(claimed, str) and v.reference == claimed and not v.ok:
            items = "".join(
                f"<li>{_e(c.dataset)} {_e(c.metric)}: got {_num(c.got)}, published {_num(c.expected)} {_e(c.note)}</li>"
                for c in v.failures
            )
            parts.append(f"<p>Claims to reproduce <b>{_e(claimed)}</b>, which it does not:</p><ul>{items}</ul>")
    if sub.notes:
        parts.append(
            '<h2 id="notes">Notes from validation</h2><ul>' + "".join(f"<li>{_e(n)}</li>" for n in sub.notes) + "</ul>"
        )
    return _page(f"{row.name} — BEIR leaderboard", "\n".join(parts))


def _radar_comparison(row: Row, site: Site) -> Comparison | None:
    """The radar's data: the submission, the baseline and the reference rows; an axis per dataset
    (nDCG@10), or per dataset and metric when there are fewer than 3 datasets."""
    mine = [ds for ds in site.datasets if ds in row.scores]
    axes: list[tuple[str, str]] = [(ds, RANK_METRIC) for ds in mine]
    if len(axes) < 3:
        axes = [(ds, m) for ds in mine for m in METRICS]
    if len(axes) < 3:
        return None
    others = [r for r in site.rows if r is not row and r.id == site.baseline]
    others += [r for r in site.rows if r.kind == "reference"][:4]
    labels: list[str] = []
    scores: dict[str, dict[str, float]] = {}
    for r in [row, *others]:
        if not all(m in r.scores.get(ds, {}) for ds, m in axes):
            continue
        label = r.name if r.kind == "submission" else f"{r.name} (ref)"
        labels.append(label)
        for ds, m in axes:
            scores.setdefault(f"{ds} {m}" if len(axes) != len(mine) else ds, {})[label] = r.scores[ds][m]
    names = [f"{ds} {m}" if len(axes) != len(mine) else ds for ds, m in axes]
    metric = RANK_METRIC if len(axes) == len(mine) else " / ".join(METRICS)
    return Comparison(metric, labels, names, scores, None, ALPHA)


def _write(site: Site, refs: Sequence[str]) -> None:
    out = site.out
    try:
        (out / PAGES_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeirctlError(f"{out}: cannot create the site folder ({exc.strerror}); choose another -o") from None
    keep = set()
    for row in site.rows:
        if row.kind == "submission":
            name = f"{row.id}.html"
            _write_text(out / PAGES_DIR / name, _submission_page(row, site, refs))
            keep.add(name)
    for old in (out / PAGES_DIR).glob("*.html"):
        if old.name not in keep and old.is_file() and not old.is_symlink():
            old.unlink()  # a page of a submission no longer on the board
    write_json(out / "leaderboard.json", site.document)
    _write_text(out / "index.html", _index(site))
