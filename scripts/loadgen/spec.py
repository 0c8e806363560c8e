"""The parameters of a load run, as the command line gives them, and the choices for each.

A spec is plain data; `runner` turns it into stacks and `report` prints it next
to the results. Stores are named here with the URL each opens, so a new store
(PostgreSQL) is one more entry in `STORES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.loadgen.graph import SHAPES, ShapeOptions

#: every operation, in the order a run applies them
OPERATIONS = ("create", "update", "supersede", "delete")
#: what a run does unless told otherwise
DEFAULT_OPERATIONS = ("create", "update", "delete")
PATHS = ("legacy", "convergence")
BACKENDS = ("trio", "asyncio")

#: store name -> the URL of a fresh store for one run, given a private temporary directory
STORES: dict[str, Callable[[Path], str]] = {
    "memory": lambda directory: "memory://",
    "sqlite": lambda directory: f"sqlite:///{directory / 'load.db'}",
}


@dataclass(frozen=True)
class LoadSpec:
    shape: str = "flat"
    size: int = 1000
    stacks: int = 1
    latency: float = 0.0
    replace: float = 0.0
    #: OS::Heat::TestResource (outside effects) even without latency or replacements
    outside: bool = False
    ops: tuple[str, ...] = DEFAULT_OPERATIONS
    path: str = "legacy"
    store: str = "sqlite"
    backend: str = "trio"
    seed: int = 1
    density: float = 2.0
    branching: int = 2
    repeat: int = 1
    #: updates of each stack the supersede operation starts, `supersede_interval` s apart
    supersede: int = 20
    supersede_interval: float = 0.02

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}")
        if self.store not in STORES:
            raise ValueError(f"unknown store {self.store!r}")
        if "create" not in self.ops and self.ops:
            raise ValueError("update and delete need create")
        if "supersede" in self.ops and self.path != "convergence":
            raise ValueError("supersede needs the convergence path")

    @property
    def shape_options(self) -> ShapeOptions:
        return ShapeOptions(branching=self.branching, density=self.density, seed=self.seed)

    @property
    def stack_names(self) -> tuple[str, ...]:
        return tuple(f"load-{index:03d}" for index in range(self.stacks))

    def parameters(self) -> dict[str, Any]:
        """The parameters every JSON line repeats."""
        return {"shape": self.shape, "size": self.size, "stacks": self.stacks,
                "latency": self.latency, "replace": self.replace, "outside": self.outside,
                "path": self.path,
                "store": self.store, "backend": self.backend, "seed": self.seed,
                "density": self.density, "branching": self.branching,
                "supersede": self.supersede, "supersede_interval": self.supersede_interval}
