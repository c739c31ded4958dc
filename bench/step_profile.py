"""Where the XLA training step of `bench/transformer_train.py` spends its time.

Profiles a few `train_on_batch` steps of zoo's Transformer (or the keras-hub build) at the
benchmark's sizes with `jit_compile=True`, reads the per-kernel ("thunk") events of XLA's
CPU runtime from the `tf.profiler` trace, and maps the matmuls to their shapes through the
optimized HLO that XLA dumps. Prints how much of a step the CPU spends in matmuls, in the
other fused kernels and idle between kernels, and the FLOP rate of every matmul.
When XLA runs two matmuls side by side, one of them can show as a short dispatch event
and its work inside the other's time (the output projection's two gradients do).

    python bench/step_profile.py                 # zoo
    python bench/step_profile.py --model keras-hub --top 10
"""

import argparse
import collections
import glob
import os
import re
import shutil
import sys
import tempfile

DUMP = tempfile.mkdtemp(prefix="step_profile_")
os.environ["XLA_FLAGS"] = f"--xla_dump_to={DUMP}/hlo --xla_dump_hlo_as_text"  # before TF

import zoo  # noqa: E402,F401  (quiet TensorFlow first)
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import transformer_train  # noqa: E402

# Events that wrap kernels rather than being kernels.
_WRAPPERS = ("ThunkExecutor", "SlinkyThreadPool", "Eager", "TFE_", "one_step", "__inference",
             "CpuExecutable", "BlockUntil")
_DOT = re.compile(r"%(\S+) = \w+\[([\d,]*)\]\S* dot\(%(\S+?), %(\S+?)\), "
                  r"(?:lhs_batch_dims=\{[\d,]*\}, )?lhs_contracting_dims=\{(\d*)\}"
                  r".*?op_name=\"([^\"]+)\"")


def matmul_shapes():
    """{HLO name: (GFLOP, 'M x K x N', TensorFlow op name)} of the step's dots."""
    path = max(glob.glob(f"{DUMP}/hlo/*one_step_on_data*cpu_after_optimizations.txt"),
               key=os.path.getsize)
    hlo = open(path).read()
    shapes = {name: [int(d) for d in dims.split(",") if d]
              for name, dims in re.findall(r"%(\S+) = \w+\[([\d,]*)\]", hlo)}
    dots = {}
    for name, out, lhs, _, lhs_contracting, op_name in _DOT.findall(hlo):
        k = shapes[lhs][int(lhs_contracting)] if lhs_contracting else 1
        out = [int(d) for d in out.split(",") if d]
        flops = 2 * k
        for d in out:
            flops *= d
        batch = "x".join(map(str, out[:-2])) + " of " if len(out) > 2 else ""
        dots[name] = (flops / 1e9, f"{batch}{out[-2]} x {k} x {out[-1]}", op_name)
    return dots


def kernel_events(logdir):
    """(start_ps, end_ps, name) of every kernel on XLA's worker threads."""
    path = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0]
    space = xplane_pb2.XSpace()
    space.ParseFromString(open(path, "rb").read())
    events = []
    for plane in space.planes:
        for line in plane.lines:
            if "Eigen" not in line.name:
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if not name.startswith(_WRAPPERS):
                    start = line.timestamp_ns * 1000 + event.offset_ps
                    events.append((start, start + event.duration_ps, name))
    return events


def concurrency(events):
    """{number of kernels running at once: picoseconds} over the profiled span."""
    edges = sorted([(s, 1) for s, _, _ in events] + [(e, -1) for _, e, _ in events])
    spans, running, last = collections.Counter(), 0, edges[0][0]
    for time, step in edges:
        spans[running] += time - last
        running, last = running + step, time
    return spans


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("zoo", "keras-hub"), default="zoo")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=20, help="matmuls to list")
    args = parser.parse_args()

    model = (transformer_train.zoo_model(0.1, 0.1) if args.model == "zoo"
             else transformer_train.keras_hub_model(0.1))
    model = transformer_train.compile_model(model)
    batches = transformer_train.synthetic_batches(4)
    for source, target_in, target in batches[:3]:  # compile and warm up
        model.train_on_batch((source, target_in), target)
    tf.profiler.experimental.start(f"{DUMP}/trace")
    for step in range(args.steps):
        source, target_in, target = batches[step % len(batches)]
        loss = model.train_on_batch((source, target_in), target)
    float(loss)
    tf.profiler.experimental.stop()

    per_step = 1e9 * args.steps  # picoseconds -> ms per step
    events = kernel_events(f"{DUMP}/trace")
    dots = matmul_shapes()
    spans = concurrency(events)
    span = sum(spans.values()) / per_step
    print(f"{args.model}: {span:.0f} ms a step under the profiler; no kernel running "
          f"{spans[0] / per_step:.0f} ms, one {spans[1] / per_step:.0f} ms, two or more "
          f"{sum(v for k, v in spans.items() if k > 1) / per_step:.0f} ms")
    busy = collections.Counter()
    for start, end, name in events:
        busy["matmuls" if name in dots else re.sub(r"\.\d+$", "", name)] += end - start
    print("kernel time a step (both threads):")
    for name, ps in busy.most_common(8):
        print(f"  {ps / per_step:7.1f} ms  {name}")
    dot_time = collections.Counter()
    for start, end, name in events:
        if name in dots:
            dot_time[name] += end - start
    total_flops = sum(dots[name][0] for name in dot_time)
    total_ms = sum(dot_time.values()) / per_step
    print(f"{len(dot_time)} matmuls: {total_flops:.1f} GFLOP in {total_ms:.0f} ms, "
          f"{total_flops / total_ms * 1e3:.0f} GFLOP/s; the slowest:")
    for name, ps in dot_time.most_common(args.top):
        gflop, shape, op_name = dots[name]
        ms = ps / per_step
        print(f"  {ms:6.1f} ms {gflop / ms * 1e3:5.0f} GFLOP/s  {shape:20s} {op_name[-70:]}")


if __name__ == "__main__":
    try:
        main()
    finally:  # the HLO dumps and the trace take tens of MB
        shutil.rmtree(DUMP, ignore_errors=True)
