DROP FUNCTION app.is_date(text);
DROP TABLE customer_group_members;
DROP TABLE customer_groups;
DROP TABLE customers;
DROP TABLE profile_fields;
