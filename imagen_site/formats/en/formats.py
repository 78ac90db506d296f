# A moment on a card or a usage line: "Mar 3, 10:42".
MONTH_DAY_TIME_FORMAT = "M j, H:i"
# A day in a usage table: "Tue Mar 3"; a day under the chart: "Mar 3".
WEEKDAY_MONTH_DAY_FORMAT = "D M j"
SHORT_MONTH_DAY_FORMAT = "M j"
