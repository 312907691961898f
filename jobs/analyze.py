"""spark-submit entry point, also a Databricks spark_python_task:

spark-submit jobs/analyze.py --config conf/my_study.yml [--run-id ID] [--set KEY=VALUE ...]
"""

import sys

from retrain_advisor.cli import main

if __name__ == "__main__":
    sys.exit(main(["analyze", *sys.argv[1:]]))
