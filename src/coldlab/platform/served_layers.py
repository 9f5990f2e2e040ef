"""Layers of served functions: opened once per set of paths (a zip is extracted, several are merged, once),
shared by every environment of every version that uses the set, and removed when the server closes.

The control plane's `Layers` member holds layer version ARNs on AWS; coldlab serve has no layer versions to
resolve them against, so it takes local paths there (a directory or .zip on this machine) and refuses an ARN
with AWS's InvalidParameterValueException shape and a message saying what it takes instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from coldlab.errors import CodeError, InvalidParameterValue
from coldlab.platform.layers import MAX_LAYERS, LayerSet, load_layers

LayerRefs = tuple[tuple[str, int], ...]  # (the layer as given, its CodeSize) per layer, in order


def layer_refs(paths: Sequence[Path]) -> LayerRefs:
    """FunctionConfiguration's `Layers` of local layers: the path stands where AWS puts the version ARN,
    CodeSize is the zip's size or the directory's files' total."""
    refs = []
    for path in paths:
        if path.is_dir():
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
        else:
            size = path.stat().st_size if path.exists() else 0
        refs.append((str(path), size))
    return tuple(refs)


class LayerStore:
    """Layer sets by their paths; `load` returns what Environment(layers=...) takes (one directory)."""

    def __init__(self) -> None:
        self._sets: dict[tuple[Path, ...], LayerSet] = {}

    def load(self, paths: Sequence[Path]) -> tuple[Path, ...]:
        """The merged /opt of `paths` (empty for none). CodeError when a layer cannot be used."""
        if not paths:
            return ()
        key = tuple(path.resolve() for path in paths)
        layer_set = self._sets.get(key)
        if layer_set is None:
            layer_set = self._sets[key] = load_layers(key)
        return (layer_set.root,) if layer_set.root is not None else ()

    def load_with_refs(self, paths: Sequence[Path]) -> tuple[tuple[Path, ...], LayerRefs]:
        """The merged /opt of `paths`, and what GetFunction shows of each layer."""
        return self.load(paths), layer_refs(paths)

    def load_requested(self, body: Mapping[str, Any]) -> tuple[tuple[Path, ...], LayerRefs]:
        """load_with_refs of a CreateFunction or UpdateFunctionConfiguration `Layers` (a 400 if unusable)."""
        try:
            return self.load_with_refs(requested_layers(body))
        except CodeError as exc:
            raise InvalidParameterValue(str(exc)) from exc

    def cleanup(self) -> None:
        for layer_set in self._sets.values():
            layer_set.cleanup()
        self._sets.clear()


def requested_layers(body: Mapping[str, Any]) -> tuple[Path, ...]:
    """The local layer paths of a request's `Layers` (a list of strings)."""
    layers = body.get("Layers")
    if not isinstance(layers, list) or not all(isinstance(layer, str) for layer in layers):
        raise InvalidParameterValue(
            "1 validation error detected: Value at 'layers' failed to satisfy constraint: "
            "Member must be a list of strings"
        )
    if len(layers) > MAX_LAYERS:
        raise InvalidParameterValue(
            f"Cannot reference more than {MAX_LAYERS} layers (coldlab serve was given {len(layers)})."
        )
    for layer in layers:
        if layer.startswith("arn:"):
            raise InvalidParameterValue(
                f"Layer version {layer} cannot be used: coldlab serve has no layer versions to fetch. "
                "Give Layers local paths instead (a directory or .zip on the server's machine, absolute), "
                "or a SAM template's Layers"
            )
        if not Path(layer).is_absolute():
            raise InvalidParameterValue(
                f"Layer {layer!r} is neither a layer version ARN nor an absolute local path "
                "(coldlab serve takes a directory or .zip on its machine)"
            )
    return tuple(Path(layer) for layer in layers)
