"""The model math, pure torch: config, energy (ResNet + FiLM), encoders, COMET, sampler,
layers and safetensors weights.

Nothing here knows the hub, cards or the CLI. A model config names its encoder and
energy; COMET builds them through the plugin registry (`comet_zoo.registry`, stdlib
only), or takes ready-made modules (`COMET(config, encoder_net=..., energy_net=...)`).
"""
