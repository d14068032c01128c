"""boto3 code behind scripts/ and Airflow: EMR, Glue, Step Functions."""
