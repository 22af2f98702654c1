"""The overload bench reads the API's own time for shed commands from its /metrics request histogram."""

from bench.overload import shed_api_p99_s

SCRAPE = """\
streamkeep_http_request_duration_seconds_bucket{le="0.005",method="POST",route="unmatched"} 990.0
streamkeep_http_request_duration_seconds_bucket{le="0.01",method="POST",route="unmatched"} 999.0
streamkeep_http_request_duration_seconds_bucket{le="0.05",method="POST",route="unmatched"} 1000.0
streamkeep_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="unmatched"} 1000.0
streamkeep_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/orders"} 1.0
streamkeep_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/orders"} 500.0
streamkeep_http_request_duration_seconds_bucket{le="0.005",method="GET",route="unmatched"} 0.0
streamkeep_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="unmatched"} 7.0
""".splitlines()


def test_the_p99_is_the_smallest_bucket_bound_holding_99_percent_of_the_unmatched_posts():
    assert shed_api_p99_s(SCRAPE) == 0.005


def test_a_tail_past_the_99th_percentile_moves_the_bound_up():
    slower = [line.replace("} 990.0", "} 980.0") for line in SCRAPE]
    assert shed_api_p99_s(slower) == 0.01


def test_nothing_shed_has_no_bound():
    assert shed_api_p99_s([line for line in SCRAPE if "unmatched" not in line]) == float("inf")
