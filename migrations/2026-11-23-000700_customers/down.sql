DROP TABLE customer_group_members;
DROP TABLE customer_groups;
DROP TABLE customers;
DROP TABLE profile_fields;
