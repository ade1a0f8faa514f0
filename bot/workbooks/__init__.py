"""The .xlsx workbooks duban hands out (台账, 督办事项台账), shared by the command line and the console."""
