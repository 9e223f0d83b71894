-- The compose stack's PostgreSQL holds two databases with separate owners:
--   airflow: Airflow's metadata and the Celery result backend, owned by the login role airflow;
--   banking: the pipeline's data, owned by the login role banking, which the banking_db connection
--            uses. banking may create roles (CREATEROLE, not SUPERUSER): the banking_schema DAG's
--            migrations create the group roles banking_writer and banking_reader, and the DAG
--            creates the login roles banking_pipeline and banking_dashboard when their passwords
--            are set. Roles it creates are the only ones it can grant or alter.
-- Run once, by init-databases.sh, with the passwords as psql variables (:'name' is a quoted literal).
\set ON_ERROR_STOP on

CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
-- Only Airflow's role (and the superuser) connect to Airflow's metadata; the banking roles cannot.
REVOKE ALL ON DATABASE airflow FROM PUBLIC;

CREATE ROLE banking LOGIN CREATEROLE PASSWORD :'banking_password';
CREATE DATABASE banking OWNER banking;
