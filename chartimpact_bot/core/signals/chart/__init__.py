"""Chart signals (`chart.*`, category other): dependencies, charts that stop rendering, values
that do nothing; detectors that read the chart's files rather than its resources."""
