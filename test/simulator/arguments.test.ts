import { describe, expect, it } from 'vitest';
import { extractArguments } from '../../src/simulator/arguments.js';

const transaction = {
  type: 'object',
  properties: {
    amount: { type: 'number' },
    merchant: { type: 'string' },
    category: { type: 'string', enum: ['shopping', 'groceries', 'travel'] },
  },
  required: ['amount', 'merchant'],
};

describe('extractArguments', () => {
  it('reads an amount and a merchant from plain prose', () => {
    expect(extractArguments('Process a $100 purchase from Amazon', transaction)).toEqual({
      amount: 100,
      merchant: 'Amazon',
    });
  });

  it('reads labelled values, case-insensitively, up to the next separator', () => {
    expect(
      extractArguments('Amount: $1,250.50, Merchant: Best Buy; category: shopping', transaction),
    ).toEqual({
      amount: 1250.5,
      merchant: 'Best Buy',
      category: 'shopping',
    });
  });

  it('reads name=value pairs separated by spaces', () => {
    expect(extractArguments('amount=42 merchant="Corner Shop" category=travel', transaction)).toEqual({
      amount: 42,
      merchant: 'Corner Shop',
      category: 'travel',
    });
  });

  it('matches labels written with spaces for snake_case and camelCase names', () => {
    const schema = { properties: { max_price: { type: 'number' }, userName: { type: 'string' } } };
    expect(extractArguments('max price: 30 and user name: bob', schema)).toEqual({
      max_price: 30,
      userName: 'bob',
    });
  });

  it('takes an enum value that appears as a word in the text', () => {
    expect(extractArguments('Spent 30 on groceries at Whole Foods', transaction)).toEqual({
      amount: 30,
      merchant: 'Whole Foods',
      category: 'groceries',
    });
  });

  it('gives separate number properties separate numbers, money first for amounts', () => {
    const schema = { properties: { quantity: { type: 'integer' }, amount: { type: 'number' } } };
    expect(extractArguments('Buy 3 tickets for $45.99', schema)).toEqual({ quantity: 3, amount: 45.99 });
  });

  it('coerces booleans and arrays', () => {
    const schema = {
      properties: { urgent: { type: 'boolean' }, tags: { type: 'array', items: { type: 'string' } } },
    };
    expect(extractArguments('urgent: yes, tags: ["a","b"]', schema)).toEqual({
      urgent: true,
      tags: ['a', 'b'],
    });
  });

  it('reads a currency from an ISO code or a currency symbol', () => {
    const schema = { properties: { currency: { type: 'string' } } };
    expect(extractArguments('pay 20 eur now', schema)).toEqual({ currency: 'EUR' });
    expect(extractArguments('pay £20 now', schema)).toEqual({ currency: 'GBP' });
  });

  it('leaves out properties with nothing in the text, even required ones', () => {
    expect(extractArguments('do something nice', transaction)).toEqual({});
  });
});
