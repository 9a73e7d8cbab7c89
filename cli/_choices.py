"""Fixed choices of the command line as Enums: help lists them, and a typo is refused by
the parser with the valid values (exit 2) before any work."""

from __future__ import annotations

from enum import Enum


class Sampler(str, Enum):
    gd = "gd"               # the paper's gradient descent
    langevin = "langevin"   # descent plus noise
    anneal = "anneal"       # noise that decays over the steps


class Split(str, Enum):
    train = "train"
    test = "test"


class Readout(str, Enum):
    clean = "clean"         # smoothed gradient maps, background assignment
    argmax = "argmax"       # the paper's argmax over raw gradient maps
    smooth = "smooth"       # smoothed maps, every pixel to a component (a background the energy sees)
