"""Contact sheet from a 5-minute 1080p H.264 video: our processing against vcsi.

    .venv/bin/python benchmarks/contact_sheet_vs_vcsi.py [--runs 3]

What it does, all on this machine, side by side in one run:
1. Makes the test video once with PyAV (1920x1080, 25 fps, 300 s, H.264 High
   profile via libx264 "veryfast" CRF 21 with the default keyframe interval of 250,
   plus an AAC stereo track) and caches it under .local/bench/.
   Fine grain in the picture gives it the bitrate of a real recording.
2. Times our ``process_video`` in-process (probe + 6 frames + 2x3 1920x1080
   sheet), and our command ``python -m analysis.processing`` as a process, the
   way vcsi is run (interpreter start-up included).
3. Times ``vcsi FILE -g 2x3 -w 1920`` (its default, accurate mode) and
   ``vcsi --fast``.
   The contenders take turns, round after round, so a busy moment on the
   machine hits all of them alike.
4. Prints the medians of wall-clock and CPU time (CPU time includes the ffmpeg
   processes vcsi starts, and is not inflated when the machine is busy), the
   ratios, and checks the targets: ours well under a second, and at least 3x
   less time than vcsi, command against command.

vcsi is not a project dependency. It pins Pillow<12 and an older numpy, which
would downgrade the project's .venv, so this script installs it into its own
virtualenv under .local/bench/vcsi-venv (from PyPI, once) unless ``--vcsi PATH``
or a ``vcsi`` on PATH is given. vcsi needs the ffmpeg and ffprobe commands
(Debian: ``apt-get install -y ffmpeg``); without them the vcsi side is skipped
and the script says so and exits with status 2.

Exit status: 0 targets met, 1 a target missed, 2 vcsi or ffmpeg unavailable.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from analysis.processing.options import ProcessingOptions  # noqa: E402
from analysis.processing.video import process_video  # noqa: E402

BENCH_DIR = ROOT / ".local" / "bench"
VIDEO_PATH = BENCH_DIR / "h264_1080p_300s_grain.mp4"
VCSI_VENV = BENCH_DIR / "vcsi-venv"
VCSI_VERSION = "7.0.17"
WIDTH, HEIGHT, FPS, SECONDS = 1920, 1080, 25, 300
TARGET_SECONDS = 1.0
TARGET_RATIO = 3.0


# --- the test video ----------------------------------------------------------------


def _backdrop() -> np.ndarray:
    """A scene twice the frame size: smooth colour gradients and a checker of
    soft blocks, so panning over it gives the encoder real motion to code."""
    h, w = HEIGHT * 2, WIDTH * 2
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    red = 127 + 100 * np.sin(x / 180.0) * np.cos(y / 240.0)
    green = 127 + 100 * np.sin((x + y) / 300.0)
    blue = 127 + 100 * np.cos(x / 90.0 - y / 150.0)
    checker = ((x // 96 + y // 96) % 2) * 30
    # Fine grain, like camera noise and texture: it makes keyframes as heavy as a
    # real recording's (several hundred kB), which is what seeking has to decode.
    grain = np.random.default_rng(1080).normal(0, 14, size=(h, w, 1)).astype(np.float32)
    scene = np.stack([red + checker, green, blue - checker], axis=-1) + grain
    return np.clip(scene, 0, 255).astype(np.uint8)


def make_test_video(path: Path) -> None:
    print(f"Making the test video {path} (once; about a few minutes on 2 cores)...", flush=True)
    started = time.perf_counter()
    scene = _backdrop()
    partial = path.with_suffix(".partial.mp4")
    total = FPS * SECONDS
    with av.open(str(partial), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "21", "profile": "high"}
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        for index in range(total):
            t = index / FPS
            x = int((math.sin(t / 23.0) + 1) / 2 * WIDTH)
            y = int((math.cos(t / 17.0) + 1) / 2 * HEIGHT)
            frame_rgb = scene[y : y + HEIGHT, x : x + WIDTH]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_rgb), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            container.mux(video.encode(frame))
            if index % (FPS * 30) == 0:
                print(f"  {index // FPS:4d} s of {SECONDS}", flush=True)
        container.mux(video.encode())
        samples = np.arange(48000 * SECONDS, dtype=np.float32) / 48000
        for start in range(0, samples.size, 1024):
            chunk = 0.3 * np.sin(2 * np.pi * 220 * samples[start : start + 1024])
            audio_frame = av.AudioFrame.from_ndarray(
                np.stack([chunk, chunk]), format="fltp", layout="stereo"
            )
            audio_frame.sample_rate = 48000
            audio_frame.pts = start
            audio_frame.time_base = Fraction(1, 48000)
            container.mux(audio.encode(audio_frame))
        container.mux(audio.encode())
    partial.replace(path)
    print(
        f"  done in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 1e6:.0f} MB",
        flush=True,
    )


def ensure_test_video() -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if VIDEO_PATH.exists():
        try:
            with av.open(str(VIDEO_PATH)) as container:
                stream = container.streams.video[0]
                ok = (
                    stream.codec_context.name == "h264"
                    and (stream.width, stream.height) == (WIDTH, HEIGHT)
                    and abs(container.duration / av.time_base - SECONDS) < 1
                )
        except (av.FFmpegError, IndexError, TypeError):
            ok = False
        if ok:
            return VIDEO_PATH
        VIDEO_PATH.unlink()
    make_test_video(VIDEO_PATH)
    return VIDEO_PATH


# --- tools -------------------------------------------------------------------------


def find_vcsi(explicit: str | None) -> Path | None:
    for candidate in (explicit, shutil.which("vcsi"), VCSI_VENV / "bin" / "vcsi"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    print(
        f"vcsi not found: installing vcsi=={VCSI_VERSION} into {VCSI_VENV} (its own virtualenv)...",
        flush=True,
    )
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    try:
        subprocess.run([str(base_python), "-m", "venv", str(VCSI_VENV)], check=True)
        subprocess.run(
            [str(VCSI_VENV / "bin" / "pip"), "install", "-q", f"vcsi=={VCSI_VERSION}"], check=True
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"  could not install vcsi: {exc}")
        return None
    return VCSI_VENV / "bin" / "vcsi"


# --- timing ------------------------------------------------------------------------


def warm_page_cache(path: Path) -> None:
    """Read the file once so every contender starts from the same warm cache."""
    with open(path, "rb") as handle:
        while handle.read(8 << 20):
            pass


@dataclass
class Timings:
    """Wall-clock and CPU seconds (user + system, all threads and child processes)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"wall median {statistics.median(self.wall) * 1000:6.0f} ms "
            f"(min {min(self.wall) * 1000:.0f}, max {max(self.wall) * 1000:.0f})   "
            f"CPU median {statistics.median(self.cpu) * 1000:6.0f} ms"
        )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_ours_in_process(video: Path, into: Timings) -> dict:
    options = ProcessingOptions()  # 6 frames, 2x3, 1920x1080: the service's defaults
    with tempfile.TemporaryDirectory(prefix="bench-ours-") as work:
        wall, cpu = time.perf_counter(), time.process_time()
        result = process_video(video, Path(work), options)
        into.cpu.append(time.process_time() - cpu)
        into.wall.append(time.perf_counter() - wall)
    return result.facts.as_dict()


def time_command(command: list[str], into: Timings) -> None:
    """Run ``command`` once; ``{out}`` and ``{dir}`` name a fresh output file/folder.
    CPU time includes the processes it starts (vcsi's ffmpeg calls)."""
    with tempfile.TemporaryDirectory(prefix="bench-cmd-") as work:
        full = [
            part.replace("{out}", str(Path(work) / "sheet.jpg")).replace("{dir}", work)
            for part in command
        ]
        wall, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(full, capture_output=True, text=True, cwd=ROOT)
        into.cpu.append(_children_cpu() - cpu)
        into.wall.append(time.perf_counter() - wall)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(full)} failed ({done.returncode}):\n{done.stderr[-2000:]}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument(
        "--vcsi", help="path to a vcsi executable (default: PATH, then .local/bench/vcsi-venv)"
    )
    args = parser.parse_args()

    video = ensure_test_video()
    warm_page_cache(video)
    print(
        f"\nTest video: {video} ({video.stat().st_size / 1e6:.0f} MB, {WIDTH}x{HEIGHT} H.264, {SECONDS} s)"
    )
    print(
        f"Contact sheet: 6 frames, grid 2x3, 1920 px wide; {args.runs} rounds; {os.cpu_count()} CPUs"
    )
    print(f"Load average before: {os.getloadavg()[0]:.2f}")

    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    vcsi = None
    if missing:
        print(
            f"\nvcsi needs the {' and '.join(missing)} command(s), which are not installed: install them "
            "(Debian: apt-get install -y ffmpeg) to compare. Only our timings will be measured."
        )
    else:
        vcsi = find_vcsi(args.vcsi)
        if vcsi is None:
            print("\nvcsi is not available: only our timings will be measured.")

    process_video(
        video, Path(tempfile.mkdtemp(prefix="bench-warmup-")), ProcessingOptions()
    )  # imports, codecs
    ours, ours_cli, vcsi_default, vcsi_fast = Timings(), Timings(), Timings(), Timings()
    ours_command = [sys.executable, "-m", "analysis.processing", str(video), "{dir}"]
    vcsi_command = [str(vcsi), str(video), "-g", "2x3", "-w", "1920", "-t", "-o", "{out}"]
    facts: dict = {}
    # Rounds interleave the contenders, so a busy moment on the machine hits all alike.
    for _ in range(args.runs):
        facts = time_ours_in_process(video, ours)
        time_command(ours_command, ours_cli)
        if vcsi is not None:
            time_command(vcsi_command, vcsi_default)
            time_command([*vcsi_command, "--fast"], vcsi_fast)

    print(f"\nours, in process    {ours.describe()}")
    print(f"    stages (last run): {facts['timings_ms']}")
    print(f"    frames at: {[frame['time_s'] for frame in facts['frames']]} s")
    print(f"ours, as a command  {ours_cli.describe()}")
    if vcsi is None:
        return 2
    print(f"vcsi (default)      {vcsi_default.describe()}")
    print(f"vcsi --fast         {vcsi_fast.describe()}")
    print(f"Load average after: {os.getloadavg()[0]:.2f}")

    def ratio(slow: Timings, fast: Timings, kind: str) -> float:
        return statistics.median(getattr(slow, kind)) / statistics.median(getattr(fast, kind))

    print("\nRatios, how many times longer vcsi takes (wall / CPU):")
    for name, slow in (("vcsi default", vcsi_default), ("vcsi --fast ", vcsi_fast)):
        for label, fast in (("ours in process", ours), ("ours as command", ours_cli)):
            print(
                f"  {name} / {label}: {ratio(slow, fast, 'wall'):5.1f}x / {ratio(slow, fast, 'cpu'):5.1f}x"
            )

    ours_median = statistics.median(ours.wall)
    command_ratio = ratio(vcsi_default, ours_cli, "wall")
    under_a_second = ours_median < TARGET_SECONDS
    fast_enough = command_ratio >= TARGET_RATIO
    print(
        f"\nTarget: ours well under {TARGET_SECONDS:.0f} s: "
        f"{'met' if under_a_second else 'MISSED'} ({ours_median * 1000:.0f} ms wall)"
    )
    print(
        f"Target: at least {TARGET_RATIO:.0f}x less time than vcsi (command vs command, default mode): "
        f"{'met' if fast_enough else 'MISSED'} ({command_ratio:.1f}x wall)"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(
            "Note: the machine was busy (load above its CPU count): wall times are inflated; CPU times are not."
        )
    return 0 if under_a_second and fast_enough else 1


if __name__ == "__main__":
    sys.exit(main())
