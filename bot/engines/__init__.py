"""Where parts of a model can be trained besides this process: `spark` (Apache Spark's ALS)."""
