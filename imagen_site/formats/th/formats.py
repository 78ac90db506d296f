# A moment on a card or a usage line: "3 มี.ค. 10:42".
MONTH_DAY_TIME_FORMAT = "j M H:i"
# A day in a usage table: "อ. 3 มี.ค."; a day under the chart: "3 มี.ค.".
WEEKDAY_MONTH_DAY_FORMAT = "D j M"
SHORT_MONTH_DAY_FORMAT = "j M"
