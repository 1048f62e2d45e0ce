"""The vocoder architectures a synth run can hold, behind one interface.

A synth run's run.json names its architecture ("window_mlp", the default since it runs in
real time on a Cortex-M4, or "wavenet") and stores that architecture's configuration
under the same key. Everything downstream (bundle, host twin, demos) goes through Vocoder:
the fused C step of the run's step.tflite, and which output of its cond.tflite fills
which block of the step's conditioning. Both architectures share hop, cond_dim, the
integer conditioning path (wavenet.generate_integer) and the fused step's C interface.

May import the rest of synth.
"""

from __future__ import annotations

from dataclasses import dataclass

from protobrain.errors import ProtobrainError
from protobrain.synth import wavenet, window_mlp

ARCHITECTURES = {"window_mlp": (window_mlp.WindowMlpConfig, window_mlp),
                 "wavenet": (wavenet.WaveNetConfig, wavenet)}
DEFAULT = "window_mlp"


@dataclass(frozen=True)
class Vocoder:
    architecture: str
    config: object  # WindowMlpConfig or WaveNetConfig

    @property
    def hop(self) -> int:
        return self.config.hop

    @property
    def cond_dim(self) -> int:
        return self.config.cond_dim

    def fuse(self, step: bytes, name: str = "synth"):
        """The fused C step (protobrain.synth.fused.FusedModel) of the run's step.tflite."""
        return ARCHITECTURES[self.architecture][1].fuse(self.config, step, name=name)

    def cond_output_order(self, cond: bytes, step: bytes) -> list[int]:
        """For each cond block of the fused step, the cond model output that fills it;
        checks that the two models were made together."""
        return ARCHITECTURES[self.architecture][1].cond_output_order(self.config, cond, step)

    def step_macs(self) -> int:
        return self.config.step_macs()


def from_run_info(info: dict) -> Vocoder:
    """The vocoder of a synth run's run.json (runs made before the architecture was
    recorded hold a WaveNet)."""
    arch = info.get("architecture", "wavenet")
    if arch not in ARCHITECTURES:
        raise ProtobrainError(f"synth run architecture {arch!r} is unknown; this protobrain knows "
                              f"{', '.join(ARCHITECTURES)} (retrain with `protobrain train synth`)")
    if arch not in info:
        raise ProtobrainError(f"synth run.json names architecture {arch!r} but holds no {arch!r} configuration")
    cls = ARCHITECTURES[arch][0]
    return Vocoder(arch, cls.from_json(info[arch]))
