-- Read-only queries need nothing outside the store file: no file readers,
-- no COPY, no network, no extension installs. Once off it stays off for
-- the process.
SET enable_external_access = false;
