"""季度报送征集 (每季度一通报): off unless ``[schedules.quarterly-round] enabled = true``; see
:mod:`schedules.periodic_rounds`."""

from schedules.periodic_rounds import fixed_period_job

JOB = fixed_period_job(name="quarterly-round", title="季度报送征集", order=70, months=3)
