"""The documents the office signs and files: 月度通报, 快报, 季度通报 and 半年评估报告, as Word files laid out as
公文 (GB/T 9704-2012), with charts.

Data comes from the same queries the chat commands and ``duban status`` use (:mod:`schedules.documents.data`);
the Word layout lives in :mod:`schedules.documents.gongwen`, the office's letterhead template in
:mod:`schedules.documents.letterhead`, the charts in :mod:`schedules.documents.charts`, and
:mod:`schedules.documents.service` is the one entry point the CLI, the chat command and the console call.
"""
