DROP TABLE message_retrievals;
DROP TABLE workspace_data_keys;
DROP TABLE campaign_messages;
DROP FUNCTION app.uncount_campaign_messages();
DROP TABLE campaign_groups;
DROP TABLE campaigns;
