"""Evaluation: the paper's metrics (`metrics`, solvers in `_fit`), the gradient
segmentation (`segment`), `comet eval` (`evaluate`), recombination against rendered
truth (`recombination`), and the baselines scored by the same code (`baselines`)."""
