import { formatMoney, type TransactionInput } from './rules.js';

export type RiskSignalKind = 'unusual_amount' | 'high_risk_merchant' | 'velocity';
export type RiskLevel = 'low' | 'medium' | 'high';

export interface RiskSignal {
  kind: RiskSignalKind;
  triggered: boolean;
  /** Points added to the score when triggered. */
  weight: number;
  detail: string;
}

export interface RiskAssessment {
  /** 0 to 100: the weights of the triggered signals added up. */
  score: number;
  level: RiskLevel;
  signals: RiskSignal[];
}

export interface RiskFacts {
  history: { count: number; average: number };
  /** Approved transactions in the velocity window. */
  recent: number;
  highRiskMerchants: readonly string[];
  velocity: { maxTransactions: number; windowMinutes: number };
}

/** An amount this many times the owner's average is unusual, once there are enough transactions to tell. */
const UNUSUAL_FACTOR = 3;
const MIN_HISTORY = 3;

export function assessRisk(transaction: TransactionInput, facts: RiskFacts): RiskAssessment {
  const { history, velocity } = facts;
  const price = formatMoney(transaction.amount, transaction.currency);
  const enoughHistory = history.count >= MIN_HISTORY;
  const ratio = history.average > 0 ? transaction.amount / history.average : 0;
  const merchant = transaction.merchant.toLowerCase();
  const signals: RiskSignal[] = [
    {
      kind: 'unusual_amount',
      triggered: enoughHistory && ratio > UNUSUAL_FACTOR,
      weight: 40,
      detail: enoughHistory
        ? `${price} is ${ratio.toFixed(1)}x the average of ${history.count} approved transactions ` +
          `(${formatMoney(history.average, transaction.currency)})`
        : `fewer than ${MIN_HISTORY} approved transactions in ${transaction.currency} to compare with`,
    },
    {
      kind: 'high_risk_merchant',
      triggered: facts.highRiskMerchants.includes(merchant),
      weight: 40,
      detail: facts.highRiskMerchants.includes(merchant)
        ? `${transaction.merchant} is on the high-risk merchant list`
        : `${transaction.merchant} is not on the high-risk merchant list`,
    },
    {
      kind: 'velocity',
      triggered: facts.recent >= velocity.maxTransactions,
      weight: 20,
      detail: `${facts.recent} approved transactions in the last ${velocity.windowMinutes} minutes (threshold ${velocity.maxTransactions})`,
    },
  ];
  const score = signals.reduce((total, signal) => total + (signal.triggered ? signal.weight : 0), 0);
  return { score, level: score >= 60 ? 'high' : score >= 30 ? 'medium' : 'low', signals };
}
