-- The server's most recent error of any kind (system.errors keeps one row
-- per error code that has happened since the server started).
SELECT name, last_error_time, last_error_message
FROM system.errors
ORDER BY last_error_time DESC
LIMIT 1;
