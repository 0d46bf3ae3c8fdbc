//! An execution's history, read one way for `watch` and `report`: every page, at most 30 of 1,000
//! events (an execution has at most 25,000, `pipeline::steps::HISTORY_EVENT_LIMIT`).

use aws_sdk_sfn::error::SdkError;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryError;
use aws_sdk_sfn::types::HistoryEvent;

const PAGE: i32 = 1000;
const MAX_PAGES: usize = 30;

pub async fn events(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
) -> Result<Vec<HistoryEvent>, SdkError<GetExecutionHistoryError>> {
    let mut events = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution)
            .max_results(PAGE)
            .set_next_token(token)
            .send()
            .await?;
        events.extend(page.events);
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    Ok(events)
}
