-- properties and context hold JSON text in VARCHAR columns: the JSON
-- functions and ->> read VARCHAR alike, and the appender then copies the
-- validated, compact text as it is instead of re-encoding it per row.
ALTER TABLE events ALTER COLUMN properties TYPE VARCHAR;
ALTER TABLE events ALTER COLUMN context TYPE VARCHAR;
