"""YAML run configs, validated with pydantic; errors name the key and its line."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from beirctl.conventions import ConventionsName, get_conventions
from beirctl.datasets import catalog
from beirctl.errors import BeirctlError, ConfigError, did_you_mean
from beirctl.evaluation.metrics import DEFAULT_METRICS, metric_name, parse_metrics
from beirctl.retrievers.base import Resources

MAX_DEPTH = 64  # nesting levels of a config: real configs use about 6
MAX_NODES = 100_000  # YAML nodes after expanding aliases (a config has a few hundred)
MAX_GRID = 1_000  # points of one retriever's grid


def grid_problem(grid: object, params: object) -> str | None:
    """Why ``grid`` (beside ``params``) cannot be expanded, or None when it can."""
    example = "e.g. grid: {k1: [0.6, 0.9], b: [0.4, 0.75]}"
    if not isinstance(grid, dict) or not grid:
        return f"must map parameter names to lists of values, {example}"
    for key, values in grid.items():
        if not isinstance(key, str):
            return f"{key!r}: a parameter name must be text"
        if not isinstance(values, list) or not values:
            return f"{key}: must be a non-empty list of values, {example}"
    if params is not None and not isinstance(params, dict):
        return "params must be a mapping"
    both = sorted(set(grid) & set(params or {}))
    if both:
        return f"{', '.join(both)}: set both in params and in grid (keep one)"
    points = math.prod(len(v) for v in grid.values())
    if points > MAX_GRID:
        return f"{points:,} points: a grid may have at most {MAX_GRID:,}"
    return None


def _grid_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def expand_grid(retrievers: Any) -> tuple[Any, list[int], list[frozenset[str]]]:
    """Each retriever with a valid ``grid`` becomes one retriever per point of it, labelled
    ``{label}-k1=0.6-b=0.4``, in the grid's key order (the last key varies fastest). Also returns,
    per resulting retriever, the index of the entry it came from and the parameters its grid set."""
    if not isinstance(retrievers, list):
        return retrievers, [], []
    out: list[Any] = []
    origins: list[int] = []
    keys: list[frozenset[str]] = []
    for i, spec in enumerate(retrievers):
        grid = spec.get("grid") if isinstance(spec, dict) else None
        if grid is None or grid_problem(grid, spec.get("params")) is not None:
            out.append(spec)
            origins.append(i)
            keys.append(frozenset())
            continue
        base = spec.get("label") or spec.get("type")
        rest = {k: v for k, v in spec.items() if k not in ("grid", "label", "params")}
        for combo in itertools.product(*grid.values()):
            point = dict(zip(grid, combo))
            label = f"{base}" + "".join(f"-{k}={_grid_value(v)}" for k, v in point.items())
            out.append({**rest, "label": label, "params": {**(spec.get("params") or {}), **point}})
            origins.append(i)
            keys.append(frozenset(grid))
    return out, origins, keys


def label_problem(value: str) -> str | None:
    """Why ``value`` cannot name a results folder or a TREC run tag, or None when it can.

    A label becomes a path component and the sixth column of a run file: no path separators,
    no ``..``, no whitespace, no control or unpaired surrogate characters, no leading dot or dash.
    """
    if not value:
        return "is empty"
    if len(value) > 128:
        return "is longer than 128 characters"
    for ch in value:
        if ch.isspace():
            return "contains whitespace"
        if unicodedata.category(ch).startswith("C"):
            return f"contains the control character U+{ord(ch):04X}"
        if ch in "/\\":
            return f"contains the path separator {ch!r}"
    if ".." in value:
        return "contains '..'"
    if value[0] in ".-":
        return f"starts with {value[0]!r}"
    return None


def _check_label(value: str, what: str) -> str:
    problem = label_problem(value)
    if problem:
        raise ValueError(f"{what} {value!r} {problem} (it names a results folder and the run tag)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    """A dataset by catalog ``name`` (in the data dir), by folder ``path``, from the hub, or an
    ``irds`` (ir_datasets) id (``name`` then only names its results)."""

    name: str | None = None
    path: str | None = None
    split: str | None = None
    source: Literal["folder", "hf"] = "folder"
    irds: str | None = None

    @model_validator(mode="after")
    def _name_or_path(self) -> DatasetSpec:
        if self.irds is not None:
            if self.path or self.source != "folder":
                raise ValueError("'irds' cannot be used with 'path' or 'source' (the ir_datasets id says where)")
            if not self.irds.strip():
                raise ValueError("'irds' must be an ir_datasets id, e.g. beir/scifact/test")
            if self.label not in catalog.DATASETS:
                _check_label(self.label, "dataset name")
            if self.split is not None:
                _check_label(self.split, "split")
            return self
        if not self.name and not self.path:
            raise ValueError("a dataset needs a 'name' or a 'path'")
        if self.source == "hf" and self.path:
            raise ValueError("'path' cannot be used with source: hf (give the hub 'name')")
        if self.name and not (self.name in catalog.DATASETS or self.name == catalog.CQADUPSTACK):
            _check_label(self.name, "dataset name")
        elif not self.name:
            _check_label(self.label, "dataset folder name")
        if self.split is not None:
            _check_label(self.split, "split")
        return self

    @property
    def label(self) -> str:
        if self.irds is not None and not self.name:
            from beirctl.datasets.irds import default_label

            return default_label(self.irds)
        return self.name or Path(self.path or "").name


class RetrieverSpec(_Strict):
    """A retriever: its registered ``type``, a ``label`` for results, and its ``params``."""

    type: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    resources: Resources | None = None  # None: what the retriever class declares
    # Lists of values per parameter; Config expands a valid grid into one retriever per point,
    # so a grid that reaches validation here is an invalid one (or one outside a config).
    grid: dict[str, Any] | None = Field(default=None, exclude=True)

    @field_validator("grid")
    @classmethod
    def _unexpanded_grid(cls, value: dict[str, Any] | None, info: ValidationInfo) -> None:
        if value is not None:
            raise ValueError(grid_problem(value, info.data.get("params")) or "a grid is expanded only in a config")
        return None

    @model_validator(mode="after")
    def _safe_label(self) -> RetrieverSpec:
        _check_label(self.name, "label" if self.label is not None else "retriever type (used as label)")
        return self

    @property
    def name(self) -> str:
        return self.label or self.type


class Config(_Strict):
    """A benchmark: every dataset × every retriever."""

    name: str | None = None
    datasets: list[DatasetSpec]
    retrievers: list[RetrieverSpec]
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    top_k: int = Field(1000, gt=0, strict=True)
    remove_query_id_hits: bool = True  # set explicitly: overrides the conventions' identical-id rule
    conventions: ConventionsName = "pyserini"
    output_dir: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    ray_encode_workers: int = Field(default=0, ge=0, strict=True)  # > 0: dense corpus encoding on this many Ray actors
    reference: str | None = None  # a published table to show beside the results (beirctl verify --list)
    _document: dict[str, Any] | None = PrivateAttr(None)  # the mapping it was read from, for config_yaml

    @field_validator("datasets", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("retrievers", mode="before")
    @classmethod
    def _grid(cls, value: Any) -> Any:
        return expand_grid(value)[0]

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_label(value, "config name")

    @field_validator("datasets", "retrievers")
    @classmethod
    def _non_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("must list at least one entry")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        try:
            parse_metrics(value)
        except BeirctlError as exc:
            raise ValueError(str(exc)) from None
        return [metric_name(v) for v in value]  # trec_eval aliases (ndcg_cut_10) as ir-measures names

    @field_validator("reference")
    @classmethod
    def _known_reference(cls, value: str | None) -> str | None:
        from beirctl.verify import reference_names

        if value is not None and value not in reference_names():
            known = reference_names()
            raise ValueError(f"unknown reference {value!r}{did_you_mean(value, known)} (known: {', '.join(known)})")
        return value

    @model_validator(mode="after")
    def _unique_labels(self) -> Config:
        labels = [r.name for r in self.retrievers]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"retriever labels must be unique; repeated: {', '.join(dupes)} (set 'label')")
        return self

    def __eq__(self, other: object) -> bool:
        """Equal fields: the mapping a config was read from (``_document``) is not compared, so a
        config built from flags equals the same config read back from its YAML."""
        if not isinstance(other, Config):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def results_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("results") / (self.name or "run")

    def results_fields(self) -> dict[str, Any]:
        """The config less where and how it runs (executor, resources): what results depend on."""
        data = self.model_dump(exclude={"executor", "ray_address", "ray_encode_workers", "reference"})
        for retriever in data["retrievers"]:
            retriever.pop("resources", None)
        if data.get("conventions") == "pyserini":
            del data["conventions"]  # the default: configs written before the key keep their sha256
        return data

    def identical_ids_override(self) -> bool | None:
        """``remove_query_id_hits`` when the config sets it (it then applies to every dataset), else None."""
        return self.remove_query_id_hits if "remove_query_id_hits" in self.model_fields_set else None

    def removes_identical_ids(self, dataset: str) -> bool:
        """Whether hits with the query's own id are dropped on ``dataset`` (a results name)."""
        override = self.identical_ids_override()
        return get_conventions(self.conventions).removes_identical_ids(dataset) if override is None else override

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.results_fields(), sort_keys=True).encode()).hexdigest()


def _node_line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its deepest existing ancestor)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    # An unknown key points at the key itself; otherwise descend into the value.
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            line = node.start_mark.line + 1
    return line


def _loc_text(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if not isinstance(part, int) and not str(part).isprintable():
            part = repr(str(part))  # a key holding a line break or a control character
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class ConfigErrors(ConfigError):
    """Every problem found in a config, one ``file:line: key: message`` line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


Loc = tuple[int | str, ...]


class _Where:
    """Turns a validation location into ``file:line: key`` in the text the user wrote: through
    grid expansion (an expanded retriever points at its entry and grid) and ``--set`` flags."""

    def __init__(self, path: Path, root: yaml.Node | None, data: object, flags: dict[Loc, str] | None = None) -> None:
        self.path, self.root, self.flags = path, root, flags or {}
        retrievers = data.get("retrievers") if isinstance(data, dict) else None
        self.expanded, self.origins, self.grid_keys = expand_grid(retrievers)

    def source(self, loc: Loc) -> Loc:
        if len(loc) >= 2 and loc[0] == "retrievers" and isinstance(loc[1], int) and loc[1] < len(self.origins):
            i, rest = loc[1], loc[2:]
            if len(rest) >= 2 and rest[0] == "params" and rest[1] in self.grid_keys[i]:
                rest = ("grid", *rest[1:])
            loc = ("retrievers", self.origins[i], *rest)
        return loc

    def line(self, loc: Loc, message: str) -> str:
        src = self.source(loc)
        where = next((self.flags[src[:n]] for n in range(len(src), -1, -1) if src[:n] in self.flags), None)
        if where is None and src:  # the value above a set path (top_k.x=1 made top_k a mapping)
            where = next((flag for loc, flag in self.flags.items() if loc[: len(src)] == src), None)
        if where is None:
            line = _node_line(self.root, src)
            where = f"{self.path}:{line}" if line else str(self.path)
        return f"{where}: {_loc_text(src) or 'config'}: {message}"

    def problems(self, exc: ValidationError, prefix: Loc = (), params: Iterable[str] | None = None) -> list[str]:
        out = []
        for err in exc.errors():
            loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _PYDANTIC_STEPS))
            message = " ".join(err["msg"].removeprefix("Value error, ").split())
            if err["type"] == "extra_forbidden":
                choices = params if params is not None and len(loc) == len(prefix) + 1 else _keys_at(loc[:-1])
                message = "unknown key" + did_you_mean(str(loc[-1]), choices or ())
            elif self.source(loc)[2:3] == ("grid",):
                message += f" (grid value {err['input']!r})"
            out.append(self.line(loc, message))
        return out


_PYDANTIC_STEPS = {"function-after", "function-before", "list[str]"}


def _keys_at(loc: Loc) -> Iterable[str]:
    """The keys a config mapping at ``loc`` may hold, for "did you mean"."""
    if not loc:
        return Config.model_fields
    if len(loc) == 2 and loc[0] == "datasets":
        return DatasetSpec.model_fields
    if len(loc) == 2 and loc[0] == "retrievers":
        return RetrieverSpec.model_fields
    return ()


def _check_shape(path: Path, text: str) -> None:
    """Reject configs nested deeper than ``MAX_DEPTH`` from the event stream, before composing.

    PyYAML's composer recurses once per level (5,000 levels: RecursionError); the parser does not.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise ConfigError(f"{path}:{line}: nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _check_nodes(path: Path, root: yaml.Node | None) -> None:
    """Duplicate keys and the size after expanding aliases, each node visited once.

    PyYAML silently keeps the last of two equal keys: a config with both is an error. An alias
    is a reference: a 400-byte "billion laughs" document expands to 10^9 nodes, which every later
    step (validation, hashing, JSON) would walk, so the expanded size is bounded first.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        if not children_done:
            stack.append((node, True))
            stack.extend((kid, False) for kid in kids if id(kid) not in sizes)
            continue
        size = 1 + sum(sizes[id(kid)] for kid in kids)
        if size > MAX_NODES:
            raise ConfigError(
                f"{path}:{node.start_mark.line + 1}: the config expands to more than {MAX_NODES:,} values "
                "(YAML aliases referring to aliases?)"
            )
        sizes[id(node)] = size
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise ConfigError(f"{path}:{key.start_mark.line + 1}: a key must be a plain value")
                if key.value in seen:
                    raise ConfigError(f"{path}:{key.start_mark.line + 1}: duplicate key {key.value!r}")
                seen.add(key.value)


def _check_result_names(path: Path, root: yaml.Node | None, config: Config) -> None:
    """Two datasets with one results folder (``a/scifact`` and ``b/scifact``) would overwrite
    each other's results: every result name must be unique in a config."""
    seen: dict[str, int] = {}
    for i, spec in enumerate(config.datasets):
        names = catalog.expand(spec.name) if spec.name and not spec.path and not spec.irds else [spec.label]
        for name in names:
            if name in seen:
                first, line = seen[name], _node_line(root, ("datasets", i))
                raise ConfigError(
                    f"{path}:{line}: datasets[{i}]: results name {name!r} is also that of datasets[{first}] "
                    f"(line {_node_line(root, ('datasets', first))}); give the folders different names"
                )
            seen[name] = i


def _check_irds(path: Path, root: yaml.Node | None, config: Config) -> None:
    """Each ``irds`` id must be a known ir_datasets id with docs, queries and qrels."""
    for i, spec in enumerate(config.datasets):
        if spec.irds is not None:
            from beirctl.datasets.irds import lookup

            try:
                lookup(spec.irds)
            except BeirctlError as exc:
                line = _node_line(root, ("datasets", i, "irds"))
                raise ConfigError(f"{path}:{line}: datasets[{i}].irds: {exc}") from None


def _check_conventions(path: Path, root: yaml.Node | None, config: Config) -> None:
    """``remove_query_id_hits`` set beside ``conventions`` must agree with them on every dataset:
    one cannot claim MTEB's conventions and drop self-hits where MTEB keeps them."""
    override = config.identical_ids_override()
    if override is None or "conventions" not in config.model_fields_set:
        return
    rules = get_conventions(config.conventions)
    names = [
        n
        for spec in config.datasets
        for n in (catalog.expand(spec.name) if spec.name and not spec.irds and not spec.path else [spec.label])
    ]
    against = [n for n in names if rules.removes_identical_ids(n) != override]
    if against:
        line = _node_line(root, ("remove_query_id_hits",))
        does = "keep" if override else "drop"
        raise ConfigError(
            f"{path}:{line}: remove_query_id_hits: {str(override).lower()} conflicts with conventions: "
            f"{config.conventions}, which {does} self-hits on {', '.join(against[:3])}"
            f"{' ...' if len(against) > 3 else ''}; remove one of the two keys"
        )


def load_config(path: str | Path, sets: Sequence[str] = (), *, data_dir: str | Path | None = None) -> Config:
    """Read and validate a YAML config, including each retriever's parameters; ``sets`` are
    ``KEY=VALUE`` overrides (see :func:`apply_sets`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    return parse_config(text, path, sets, data_dir=data_dir)


def _read_yaml(text: str, path: Path) -> tuple[yaml.Node | None, Any]:
    try:
        _check_shape(path, text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_nodes(path, root)
        return root, yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML ({problem})") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{path}: the config is too large or too deeply nested") from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. an integer of more than 4,300 digits
        raise ConfigError(f"{path}: invalid YAML value ({str(exc).split(';')[0][:200]})") from None


def parse_config(
    text: str,
    path: str | Path = "<config>",
    sets: Sequence[str] = (),
    *,
    default_name: str | None = None,
    data_dir: str | Path | None = None,
) -> Config:
    """Validate config ``text`` after the ``KEY=VALUE`` overrides ``sets``; every problem is
    reported at once, each naming ``path`` and the line (or the flag that set the value)."""
    path = Path(path)
    root, data = _read_yaml(text, path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    flags = apply_sets(data, sets)
    return _validate(data, _Where(path, root, data, flags), default_name or path.stem, data_dir)


def config_from_flags(
    datasets: Sequence[str],
    retrievers: Sequence[str],
    sets: Sequence[str] = (),
    *,
    data_dir: str | Path | None = None,
) -> Config:
    """A config built from ``--dataset`` and ``--retriever`` flags and ``--set KEY=VALUE`` overrides
    (a KEY that is not a config key sets that parameter of every retriever)."""
    if not datasets or not retrievers:
        raise ConfigError("give a config file (or - to read one from stdin), or at least one --dataset and --retriever")
    name = "-".join(dict.fromkeys(retrievers))
    entries: list[Any] = [
        {"path": d} if d not in catalog.DATASETS and d != catalog.CQADUPSTACK and Path(d).is_dir() else d
        for d in datasets
    ]
    data: dict[str, Any] = {
        "name": name if label_problem(name) is None else "run",
        "datasets": entries,
        "retrievers": [{"type": r} for r in retrievers],
    }
    flags: dict[Loc, str] = {("datasets", i): f"--dataset {d}" for i, d in enumerate(datasets)}
    flags.update({("retrievers", i): f"--retriever {r}" for i, r in enumerate(retrievers)})
    flags.update(apply_sets(data, sets))
    return _validate(data, _Where(Path("<command line>"), None, data, flags), data["name"], data_dir)


def _set_value(raw: str, item: str) -> Any:
    """A ``--set`` value as a YAML scalar (``1.2``, ``true``, ``null``) or flow collection
    (``[a, b]``); other text is kept as typed, spaces included (``query: ``)."""
    if raw.strip()[:1] in ("[", "{"):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item}: invalid YAML value ({getattr(exc, 'problem', exc)})") from None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, str) and raw.strip()[:1] not in ("'", '"'):
        return raw  # a plain string: YAML would strip its spaces
    return value if value is None or isinstance(value, (str, bool, int, float)) else raw


def apply_sets(data: dict[str, Any], sets: Sequence[str]) -> dict[Loc, str]:
    """Apply ``KEY=VALUE`` overrides to config ``data`` in place. KEY is a dotted path, list items by
    index (``retrievers.0.params.k1``, ``top_k``); a bare KEY that is not a config key sets that
    parameter of every retriever (``k1``). Returns the flag that set each location, for errors."""
    flags: dict[Loc, str] = {}
    for item in sets:
        key, eq, raw = item.partition("=")
        key = key.strip()
        flag = f"--set {item}"
        if not eq or not key:
            raise ConfigError(f"{flag}: expected KEY=VALUE, e.g. --set top_k=100 or --set retrievers.0.params.k1=1.2")
        value = _set_value(raw, item)
        parts = key.split(".")
        if len(parts) == 1 and key not in Config.model_fields:
            retrievers = data.get("retrievers")
            if not isinstance(retrievers, list) or not retrievers:
                raise ConfigError(f"{flag}: {key!r} is not a config key{did_you_mean(key, Config.model_fields)}")
            for i, spec in enumerate(retrievers):
                if not isinstance(spec, dict) or not isinstance(spec.get("params") or {}, dict):
                    raise ConfigError(f"{flag}: retrievers[{i}] has no params mapping to set {key!r} in")
                if spec.get("params") is None:
                    spec["params"] = {}
                spec["params"][key] = value
                flags[("retrievers", i, "params", key)] = flag
            continue
        flags[_set_path(data, parts, value, flag)] = flag
    return flags


def _set_path(data: dict[str, Any], parts: list[str], value: Any, flag: str) -> Loc:
    node: Any = data
    loc: list[int | str] = []
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = _loc_text(tuple(loc))
                raise ConfigError(f"{flag}: {where} is a list of {len(node)}: give an index from 0 to {len(node) - 1}")
            index: int | str = int(part)
        elif isinstance(node, dict):
            index = part
            if not last and node.get(part) is None:
                node[part] = {}
        else:
            raise ConfigError(f"{flag}: {_loc_text(tuple(loc)) or 'config'} is a value, not a mapping or list")
        loc.append(index)
        if last:
            node[index] = value
        else:
            node = node[index]
    return tuple(loc)


def _dataset_problems(data: dict[str, Any], where: _Where, data_dir: str | Path | None) -> list[str]:
    """A dataset name close to a catalog name, with no folder of that name in the data dir, is a
    misspelling: said at load time, with the suggestion."""
    from beirctl.datasets.paths import data_dir as resolve_data_dir

    datasets = data.get("datasets")
    out: list[str] = []
    known = [*catalog.DATASETS, catalog.CQADUPSTACK]
    for i, entry in enumerate(datasets if isinstance(datasets, list) else []):
        folder = (
            isinstance(entry, dict)
            and not entry.get("path")
            and not entry.get("irds")
            and entry.get("source", "folder") == "folder"
        )
        name = entry if isinstance(entry, str) else entry.get("name") if folder else None
        if not isinstance(name, str) or name in known:
            continue
        hint = did_you_mean(name, known, cutoff=0.75)
        own = data.get("data_dir")
        root = resolve_data_dir(data_dir or (own if isinstance(own, str) else None))
        if hint and not (root / name).is_dir():
            loc: Loc = ("datasets", i) if isinstance(entry, str) else ("datasets", i, "name")
            out.append(where.line(loc, f"unknown dataset {name!r}{hint}; a folder of your own: give its path"))
    return out


def _validate(data: dict[str, Any], where: _Where, default_name: str, data_dir: str | Path | None) -> Config:
    from beirctl.retrievers import registry

    problems = _dataset_problems(data, where, data_dir)
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems += where.problems(exc)
    for i, spec in enumerate(where.expanded if isinstance(where.expanded, list) else []):
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            continue
        try:
            cls = registry.get(spec["type"])
        except ConfigError as exc:
            problems.append(where.line(("retrievers", i, "type"), str(exc)))
            continue
        params = {} if spec.get("params") is None else spec["params"]
        if isinstance(params, dict):  # else reported by Config
            try:
                cls.Params.model_validate(params)
            except ValidationError as exc:
                problems += where.problems(exc, ("retrievers", i, "params"), cls.Params.model_fields)
    if config is not None:
        for check in (_check_result_names, _check_conventions, _check_irds):
            try:
                check(where.path, where.root, config)
            except ConfigError as exc:
                problems.append(str(exc))
    problems = sorted(dict.fromkeys(problems), key=lambda p: _line_of(p, where.path))  # a grid repeats problems
    if problems or config is None:
        raise ConfigErrors(problems) if len(problems) > 1 else ConfigError(problems[0])
    if config.name is None:
        config.name = default_name
    config._document = {"name": config.name, **{k: v for k, v in data.items() if k != "name"}}
    return config


def _line_of(problem: str, path: Path) -> int:
    """The line a problem names, for the order of the report (flags' problems last)."""
    rest = problem.removeprefix(f"{path}:")
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
    return int(digits) if digits and rest != problem else 1 << 30


def config_yaml(config: Config) -> str:
    """The config as YAML that loads back to an equal config (grids kept unexpanded)."""
    document = config._document
    if document is None:
        document = config.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)
