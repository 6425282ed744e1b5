-- Every pulse object lives in one database, named by --database.
CREATE DATABASE IF NOT EXISTS {{database}};
