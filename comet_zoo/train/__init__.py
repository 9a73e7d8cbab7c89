"""Training: the Algorithm 1 Trainer (`trainer`), recipes as data (`recipe`), and
multi-process runs (`distributed`)."""
