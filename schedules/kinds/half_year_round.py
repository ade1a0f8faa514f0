"""半年评估报送征集 (每半年评估报告): off unless ``[schedules.half-year-round] enabled = true``; see
:mod:`schedules.periodic_rounds`."""

from schedules.periodic_rounds import fixed_period_job

JOB = fixed_period_job(name="half-year-round", title="半年评估报送征集", order=80, months=6)
