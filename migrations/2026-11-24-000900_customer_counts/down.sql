DROP TRIGGER customers_counted_on_delete ON customers;
DROP TRIGGER customers_counted_on_insert ON customers;
DROP FUNCTION app.count_deleted_customers();
DROP FUNCTION app.count_inserted_customers();
DROP TABLE workspace_customer_counts;
