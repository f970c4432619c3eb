"""System metrics beside the loss: the process, the machine's memory, the GPUs, the step time.

process.py   CPU % of this process, its RSS, the machine's RAM in use (stdlib on Linux, else psutil)
gpu.py       per visible GPU: util, memory, temperature, power (NVML, else what torch can tell)
sampler.py   the monitor's thread that samples them once a second into the run, at its current step
"""

from lossmon.system.sampler import SystemSampler

__all__ = ["SystemSampler"]
