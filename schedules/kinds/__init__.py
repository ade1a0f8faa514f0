"""The timed jobs, one module per kind; :mod:`schedules.registry` imports every module here.

How to add a job — one new module in this package, no other file edited::

    # schedules/kinds/site_visit.py
    from schedules.job import Job, JobSettings

    class SiteVisitSettings(JobSettings):           # its [schedules.site-visit] section; unknown keys refused
        at: time = time(8, 30)

    def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
        return planner.every_workday(JOB.name, planner.settings.job(JOB), start, end)

    async def compose(session, env, at, *, late, now) -> Composition:
        config = env.settings.job(JOB)               # typed: a SiteVisitSettings
        ...
        return Composition(deliveries=[...], note="…")

    JOB = Job(name="site-visit", title="现场督查提醒", order=90,
              settings=SiteVisitSettings, plan=plan, compose=compose)

``name`` is the TOML section (``[schedules.site-visit]``), the environment spelling with underscores
(``DUBAN_SCHEDULES__SITE_VISIT__AT``) and the name ``duban jobs run`` takes; ``order`` (unique) places it in
``duban jobs list`` and among occurrences due at the same moment. From then on the scheduler plans it, the
catch-up at start-up runs what was missed, ``duban jobs list`` shows it and ``duban jobs run site-visit`` runs it,
every run through the same claim (:func:`schedules.jobs.run_job`), so each occurrence posts once across instances.
The planner's helpers (``on_workday``, ``every_workday``, ``periods_due_between``) carry the holiday policies;
an optional ``describe=`` (a line saying when it runs, from the settings) is shown by ``duban jobs list``.

Imports: a job module is read whenever the configuration is (its settings model types ``[schedules]``), that is by
every ``duban`` command. At its top it therefore imports only what the declaration needs (its settings, planner and
description); what the composer needs (SQLAlchemy, the models, the outbox, the templates) is imported inside the
composer, or under ``TYPE_CHECKING`` for annotations. ``tests/test_cli_startup.py`` holds ``duban status`` to that.
"""
