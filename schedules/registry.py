"""Every timed job, found in :mod:`schedules.kinds`: each module there declares one ``JOB``.

The modules are imported in name order and the jobs sorted by their declared ``order``, so ``duban jobs list``
and the scheduler see the same sequence on every instance. Two jobs with one name or one position, or a module
without a ``JOB``, stop the start with the module named.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

from schedules import kinds
from schedules.job import Job


def discover(package: ModuleType) -> tuple[Job[Any], ...]:
    """The ``JOB`` of every module in ``package``, by their ``order``."""
    found: dict[str, Job[Any]] = {}
    positions: dict[int, str] = {}
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        module_name = f"{package.__name__}.{module_info.name}"
        job = getattr(importlib.import_module(module_name), "JOB", None)
        if not isinstance(job, Job):
            raise TypeError(f"{module_name} 没有声明 JOB = Job(...)")
        if job.name in found:
            raise ValueError(f"{module_name}：任务名 {job.name} 已被使用")
        if job.order in positions:
            raise ValueError(f"{module_name}：order {job.order} 已被 {positions[job.order]} 使用")
        found[job.name] = job
        positions[job.order] = job.name
    return tuple(sorted(found.values(), key=lambda job: job.order))


JOBS = discover(kinds)
JOB_NAMES = tuple(job.name for job in JOBS)
JOB_TITLES = {job.name: job.title for job in JOBS}
_BY_NAME = {job.name: job for job in JOBS}


def job_named(name: str) -> Job[Any]:
    """The job called ``name``; a ``KeyError`` naming the choices otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"没有名为 {name} 的定时任务（可选：{'、'.join(JOB_NAMES)}）") from None
