-- An empty api_base_urls used to mean "any host"; it now means "none", and
-- ["*"] means any origin (an admin's choice). Integrations saved with an empty
-- (or missing) list keep working: they get ["*"], and show its warning.
UPDATE integrations SET config = json_set(config, '$.api_base_urls', json('["*"]'))
WHERE json_type(config, '$.api_base_urls') IS NOT 'array'
   OR json_array_length(config, '$.api_base_urls') = 0;
