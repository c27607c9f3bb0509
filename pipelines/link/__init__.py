"""Link: the region's records of all sources linked into residents, and the suites on them."""
